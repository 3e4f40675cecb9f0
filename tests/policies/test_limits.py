"""Client-side limits: even spacing under RPM/TPM, and a key pool that rests 429'd keys."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from storygen.policies.limits import KeyPool, RateLimiter


class VirtualClock:
    """Time that passes only when the limiter sleeps: what it decides, never how late the
    machine let a coroutine run (under load two sends can land microseconds apart)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._yield = asyncio.sleep

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await self._yield(0)  # still a real suspension point: the others run meanwhile


async def test_rpm_spaces_requests_evenly_and_never_bursts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = VirtualClock()
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    limiter = RateLimiter(rpm=10, window_s=0.5, margin=0.0, margin_s=0.0, clock=clock)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(clock())

    await asyncio.gather(*(one() for _ in range(12)))
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) == pytest.approx(0.05)  # window / rpm, every time
    # any window of 0.5 s holds at most 10 requests
    assert all(sent[i + 10] - sent[i] >= 0.5 - 1e-9 for i in range(len(sent) - 10))


async def test_tpm_spaces_by_tokens_and_settles_to_actual_usage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = VirtualClock()
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    limiter = RateLimiter(tpm=1000, window_s=1.0, margin=0.0, margin_s=0.0, clock=clock)
    booked = await limiter.acquire(500)  # half the budget: the next would wait 0.5 s
    limiter.settle(booked, 100)  # the response used far less: most of that wait is given back
    await limiter.acquire(100)
    assert clock() == pytest.approx(0.1)  # the 100 tokens used, not the 500 booked


async def test_without_limits_nothing_waits() -> None:
    limiter = RateLimiter()
    t0 = time.monotonic()
    for _ in range(1000):
        await limiter.acquire(10_000)
    assert time.monotonic() - t0 < 0.5


async def test_key_pool_spreads_and_rests_a_rate_limited_key() -> None:
    pool = KeyPool(3, per_key_concurrency=2)
    used: list[int] = []

    async def call() -> None:
        async with pool.key() as k:
            used.append(k)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(call() for _ in range(6)))
    assert sorted(used) == [0, 0, 1, 1, 2, 2]

    pool.cool_down(0, 0.3)
    used.clear()
    await asyncio.gather(*(call() for _ in range(8)))
    assert 0 not in used  # keys 1 and 2 carried the load while key 0 rested
    assert pool.stats[0].rate_limited == 1
    assert pool.stats[0].cooling_until > time.monotonic()
    assert pool.next_free_in() == 0.0  # the others are ready


async def test_key_pool_waits_for_the_cool_down_when_every_key_rests() -> None:
    pool = KeyPool(1, per_key_concurrency=1)
    pool.cool_down(0, 0.2)
    t0 = time.monotonic()
    async with pool.key() as k:
        assert k == 0
    assert time.monotonic() - t0 >= 0.19


@pytest.mark.parametrize("keys", [1, 4])
def test_capacity_is_keys_times_per_key_concurrency(keys: int) -> None:
    assert KeyPool(keys, per_key_concurrency=8).capacity == 8 * keys
