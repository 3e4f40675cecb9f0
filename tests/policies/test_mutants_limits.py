"""Limits the existing tests left loose (found by mutation testing).

The TPM test in test_limits.py uses a one-second window, where ``tokens * window / tpm``
and ``tokens / window / tpm`` agree, and only checks that a settled booking does not
wait; here the spacing itself is checked on a window that tells the two apart. Times are
lower bounds (a sleep never ends early) with a generous upper bound.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from storygen.policies.limits import KeyPool, RateLimiter


async def test_tpm_spaces_requests_by_their_share_of_the_window() -> None:
    limiter = RateLimiter(tpm=1000, window_s=0.2, margin=0.0, margin_s=0.0)
    assert await limiter.acquire(500) == 500
    t0 = time.monotonic()
    await limiter.acquire(10)
    waited = time.monotonic() - t0
    # 500 of 1000 tokens a window: the next request leaves half a window (0.1 s) later
    assert 0.1 * 0.9 <= waited < 1.0


async def test_a_request_larger_than_the_budget_is_booked_as_the_whole_budget() -> None:
    limiter = RateLimiter(tpm=100, window_s=0.1, margin=0.0, margin_s=0.0)
    assert await limiter.acquire(10_000) == 100
    t0 = time.monotonic()
    await limiter.acquire(0)
    assert 0.1 * 0.9 <= time.monotonic() - t0 < 1.0  # one window, not a hundred


async def test_usage_above_the_booking_pushes_the_next_request_back() -> None:
    limiter = RateLimiter(tpm=1000, window_s=0.2, margin=0.0, margin_s=0.0)
    booked = await limiter.acquire(100)  # 0.02 s of budget
    limiter.settle(booked, 600)  # the answer was long: 0.12 s of budget
    t0 = time.monotonic()
    await limiter.acquire(0)
    assert 0.1 * 0.9 <= time.monotonic() - t0 < 1.0


async def test_booking_is_zero_tokens_by_default_and_nothing_without_limits() -> None:
    assert await RateLimiter(tpm=1000).acquire() == 0
    assert await RateLimiter().acquire(500) == 0


async def test_the_first_request_leaves_at_once_whatever_the_clock_reads() -> None:
    limiter = RateLimiter(rpm=1, tpm=1000, window_s=60.0, clock=lambda: 0.0)
    t0 = time.monotonic()
    await limiter.acquire(10)
    assert time.monotonic() - t0 < 0.5


def test_the_window_is_a_minute_widened_by_the_margins() -> None:
    assert RateLimiter(rpm=10).window_s == pytest.approx(60.0 * 1.02 + 0.05)
    assert RateLimiter(rpm=10, window_s=60.0, margin=0.5, margin_s=1.0).window_s == 91.0


async def test_a_zero_second_rest_leaves_the_key_usable_at_once() -> None:
    """Retry-After: 0 must not park the key (or, with one key, every call) forever."""
    pool = KeyPool(1, clock=lambda: 50.0)
    pool.cool_down(0, 0.0)

    async def take() -> int:
        async with pool.key() as k:
            return k

    assert await asyncio.wait_for(take(), timeout=5.0) == 0


def test_every_429_on_a_key_is_counted_and_its_rest_only_grows() -> None:
    now = [100.0]
    pool = KeyPool(2, clock=lambda: now[0])
    pool.cool_down(1, 5.0)
    pool.cool_down(1, 2.0)  # a shorter hint does not cut the rest short
    pool.cool_down(1, -3.0)
    assert [s.rate_limited for s in pool.stats] == [0, 3]
    assert pool.stats[1].cooling_until == 105.0
    assert pool.next_free_in() == 0.0  # key 0 is ready
    pool.cool_down(0, 1.5)
    assert pool.next_free_in() == 1.5
    now[0] = 104.0
    assert pool.next_free_in() == 0.0
