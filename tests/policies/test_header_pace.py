"""Pacing by the provider's x-ratelimit-* headers: the room they state is spent spread to
the reset, then calls wait for the reset; calls sent just before the headers came count
against them; a 429 all the same lengthens that lag; without headers the gate learns the
window from 429s as before."""

from __future__ import annotations

import asyncio

import pytest

from storygen.core.errors import RateLimitedError
from storygen.core.models import AdaptiveSettings
from storygen.core.rate_headers import RateHeaders
from storygen.engine.admission import AdaptiveLimit, FixedLimit
from storygen.policies.adaptive import Controller, Gate
from storygen.policies.header_pace import LAG_GROWTH, LAG_S, HeaderPace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def headers(remaining: int, reset_s: float, limit: int = 60) -> RateHeaders:
    return RateHeaders(limit, remaining, reset_s)


def test_without_headers_it_does_not_wait() -> None:
    pace = HeaderPace(Clock())
    assert pace.wait(in_flight=3) == 0.0
    assert not pace.seen


def test_nothing_remaining_waits_for_the_reset_then_lets_one_call_go() -> None:
    clock = Clock()
    pace = HeaderPace(clock)
    pace.observed(headers(remaining=0, reset_s=0.3))
    assert pace.wait(in_flight=2) == pytest.approx(0.3)
    clock.now += 0.3
    assert pace.wait(in_flight=2) == 0.0  # the oldest call left the window: one more
    pace.started()
    assert pace.wait(in_flight=3) is None  # spent: the next answer tells more
    assert pace.wait(in_flight=0) == 0.0  # none in flight to tell: one call goes and asks


def test_a_little_room_is_spread_to_the_reset() -> None:
    clock = Clock()
    pace = HeaderPace(clock)
    pace.observed(headers(remaining=3, reset_s=0.4))
    assert pace.wait(in_flight=5) == 0.0
    pace.started()
    # two left until the reset in 0.4 s: one every 0.4 / 3 s
    assert pace.wait(in_flight=6) == pytest.approx(0.4 / 3)


def test_calls_sent_just_before_the_headers_came_count_against_them() -> None:
    clock = Clock()
    pace = HeaderPace(clock)
    pace.started()  # sent, but perhaps not yet counted when the answer left the provider
    clock.now += LAG_S / 2
    pace.observed(headers(remaining=1, reset_s=0.5))
    assert pace.wait(in_flight=4) == pytest.approx(0.5)  # its one room is that call's


def test_a_429_while_paced_lengthens_the_lag() -> None:
    pace = HeaderPace(Clock())
    pace.refused()
    assert pace.lag == LAG_S  # no headers yet: nothing to correct
    pace.observed(headers(remaining=5, reset_s=0.1))
    pace.refused()
    assert pace.lag == pytest.approx(LAG_S * LAG_GROWTH)


def test_no_tokens_left_waits_for_their_reset() -> None:
    pace = HeaderPace(Clock())
    pace.observed(RateHeaders(remaining_tokens=0, reset_tokens_s=0.25))
    assert pace.wait(in_flight=1) == pytest.approx(0.25)


async def test_the_gate_holds_calls_to_the_headers_and_learns_no_window_from_a_429() -> None:
    controller = Controller(AdaptiveSettings(start=8), 8)
    gate = Gate(controller.current, controller)
    loop = asyncio.get_running_loop()
    async with gate.slot():
        pass
    gate.observed(headers(remaining=0, reset_s=0.1))
    assert controller.provider_paced
    t0 = loop.time()
    async with gate.slot():
        waited = loop.time() - t0
    assert waited >= 0.1 * 0.9  # a slow machine only waits longer
    with pytest.raises(RateLimitedError):
        async with gate.slot():
            raise RateLimitedError("429", retry_after=0.05)
    assert gate.window.size is None  # the headers pace it, not a window learned from 429s
    assert gate.headers.lag > LAG_S
    controller.on_rate_limited()
    assert controller.current() == 8  # a 429 while paced by headers cuts nothing


async def test_an_answer_with_headers_wakes_a_call_waiting_for_news() -> None:
    gate = Gate(lambda: 4)
    gate.observed(headers(remaining=0, reset_s=0.0))
    hold = gate.slot()
    await hold.__aenter__()  # the one call the reset allowed, in flight
    waiting = asyncio.ensure_future(gate.slot().__aenter__())
    await asyncio.sleep(0)
    assert not waiting.done()  # spent, one in flight: wait for its news
    gate.observed(headers(remaining=5, reset_s=1.0))
    await asyncio.wait_for(waiting, timeout=5.0)
    await hold.__aexit__(None, None, None)


def test_fixed_limits_ignore_headers_and_report_no_plateau() -> None:
    fixed = FixedLimit()
    fixed.observed(headers(remaining=0, reset_s=9.0))
    assert fixed.plateau() is None


async def test_the_adaptive_limit_hands_headers_to_its_gate() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(), 16, asyncio.get_running_loop().time, False)
    limit.observed(headers(remaining=10, reset_s=0.5))
    assert limit.gate.headers.seen and limit.controller.provider_paced
    assert limit.plateau() is None
