"""Adaptive concurrency: the controller grows while calls stay at their no-load time, backs
off on a 429 or on queueing, and a run with it on stays under a server's limits."""

from __future__ import annotations

import statistics

import pytest
from conftest import fast_policy

from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.adaptive import BASELINE, CUT, Controller
from storygen.models import AdaptiveSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def controller(start: int = 2, most: int = 64) -> tuple[Controller, Clock]:
    clock = Clock()
    c = Controller(AdaptiveSettings(start=start), most, clock=clock)
    c.start()
    return c, clock


def answer_rounds(c: Controller, seconds: float, rounds: int) -> None:
    """``rounds`` rounds of answers (a round: as many answers as calls allowed)."""
    for _ in range(rounds):
        for _ in range(c.current()):
            c.on_answer(seconds, c.ticket())


def test_it_doubles_per_round_from_the_start_while_calls_stay_quick() -> None:
    c, _ = controller(start=2)
    seen = [c.current()]
    for _ in range(4):
        answer_rounds(c, 0.1, 1)
        seen.append(c.current())
    assert seen[-3:] == [8, 16, 32]  # slow start: x2 a round once the no-load level is known
    assert c.no_load == pytest.approx(0.1)


def test_a_429_cuts_once_per_round_and_ends_the_doubling() -> None:
    c, _ = controller(start=2)
    answer_rounds(c, 0.1, 5)
    before = c.current()
    c.on_rate_limited()
    assert c.current() == int(before * CUT)
    c.on_rate_limited()  # the same burst: calls that were already in flight
    assert c.current() == int(before * CUT)
    after_cut = c.current()
    answer_rounds(c, 0.1, 1)
    assert c.current() == after_cut + 1 or c.current() == pytest.approx(after_cut, abs=1)
    assert not c.slow_start
    assert c.rate_limited == 2


def test_queueing_calls_cut_the_limit() -> None:
    c, _ = controller(start=2)
    answer_rounds(c, 0.1, 5)  # the first BASELINE answers set the no-load level
    assert c.no_load == pytest.approx(0.1)
    before = c.current()
    answer_rounds(c, 0.25, 2)  # 2.5x slower: a queue in front of the model
    assert c.current() < before


def test_it_never_leaves_its_bounds() -> None:
    c, _ = controller(start=4, most=10)
    answer_rounds(c, 0.1, 20)
    assert c.current() == 10
    for _ in range(30):
        answer_rounds(c, 0.1, 1)
        c.on_rate_limited()
    assert c.current() >= 1


def test_the_trace_records_every_change() -> None:
    c, clock = controller(start=2)
    for step in range(3):
        clock.now = float(step)
        answer_rounds(c, 0.1, 1)
    limits = [limit for _, limit in c.trace]
    assert limits[0] == 2 and limits == sorted(limits)
    assert len(c.trace) == len(set(limits))


# 200 scenes, windowed, up to 50 in flight, the concurrency found at run time
ADAPTIVE_200 = ScriptRequest(
    idea="A fox", duration_s=1600, strategy="windowed", concurrency=50, adaptive=AdaptiveSettings()
)


def test_on_a_capacity_limited_server_it_holds_near_the_capacity() -> None:
    """8 slots, beyond them a queue: the limit must not run away towards the maximum."""
    request = ADAPTIVE_200
    backend = SimulatedBackend(time_scale=0.005, capacity=8)
    script = generate(request, backend, policy=fast_policy())
    assert len(script.scenes) == 200
    limits = [limit for _, limit in script.meta.concurrency_trace]
    late = limits[len(limits) // 2 :]
    assert max(limits) < 50  # it found a limit far below the maximum
    assert 3 <= statistics.median(late) <= 16  # generous: the machine is shared


def test_an_unknown_rpm_limit_slows_it_down_and_no_call_fails() -> None:
    request = ADAPTIVE_200
    backend = SimulatedBackend(time_scale=0.005, rpm=60)
    script = generate(request, backend)
    assert len(script.scenes) == 200
    assert script.meta.rate_limited > 0  # it did meet the limit
    assert script.meta.final_concurrency < 50
    assert BASELINE < 200
