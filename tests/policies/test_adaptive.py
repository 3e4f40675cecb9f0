"""Adaptive concurrency: the controller grows while calls stay at their no-load time, backs
off on a 429 or on queueing, and a run with it on stays under a server's limits."""

from __future__ import annotations

import asyncio
import statistics

import pytest
from conftest import FAST, fast_policy

from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.core.errors import RateLimitedError
from storygen.core.models import AdaptiveSettings
from storygen.policies.adaptive import BASELINE, CUT, Controller, Gate, LearnedWindow, _Start


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
    c.on_rate_limited()  # leaves slow start
    answer_rounds(c, 0.1, 3)  # clear of the burst that was in flight at the cut
    before = c.current()
    c.on_rate_limited()
    assert c.current() == int(before * CUT)
    c.on_rate_limited()  # the same burst: calls that were already in flight
    assert c.current() == int(before * CUT)
    after_cut = c.current()
    answer_rounds(c, 0.1, 1)
    assert c.current() == after_cut + 1 or c.current() == pytest.approx(after_cut, abs=1)
    assert not c.slow_start
    assert c.rate_limited == 3


def test_the_first_429_in_slow_start_goes_back_to_the_last_level_that_got_through() -> None:
    """Doubling overshoots: the level before the last doubling drew no 429, the one after
    did, so a cut of 0.7 would still be 40% above what the provider took."""
    c, _ = controller(start=2)
    answer_rounds(c, 0.1, 5)
    assert c.slow_start
    doubled = c.current()
    c.on_rate_limited()
    assert not c.slow_start
    assert c.current() == doubled // 2
    assert c.ceiling == doubled


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


def test_a_429_the_learned_window_answers_ends_slow_start_without_a_cut() -> None:
    """The window spaces the calls from then on; cutting the calls in flight as well would
    leave the provider's room unused (a batch of 16 cannot fill a window of 60)."""
    c, _ = controller(start=2)
    window = LearnedWindow(lambda: 0.0)
    c.window = window
    answer_rounds(c, 0.1, 5)
    before = c.current()
    window.refused(window.start(), retry_after=0.5)  # the gate learns first, then the engine
    c.on_rate_limited()
    assert not c.slow_start
    assert c.current() == before
    assert c.rate_limited == 1


@pytest.mark.parametrize(("batches", "most"), [(True, 64), (True, 30), (False, 64)])
def test_once_the_window_is_learned_a_batch_is_as_large_as_it_holds(
    batches: bool, most: int
) -> None:
    """A batch waits for its last call, so a batch of 16 under a window of 40 spends most
    of its time waiting; the window spaces the calls, so a batch of 40 costs the provider
    nothing more. A windowed run's calls in flight are not batches: its limit stays."""
    c = Controller(AdaptiveSettings(start=2), most, clock=Clock(), batches=batches)
    c.start()
    window = LearnedWindow(lambda: 0.0)
    c.window = window
    answer_rounds(c, 0.1, 3)
    before = c.current()
    for _ in range(40):
        window.start()
    window.refused(window.start(), retry_after=0.5)  # 40 calls fill the provider's window
    c.on_rate_limited()
    assert window.size == 40 and before < 40
    assert c.current() == (min(40, most) if batches else before)


def test_a_rare_quick_round_does_not_make_ordinary_rounds_look_like_a_queue() -> None:
    """A median of a few answers is noisy: the no-load level follows a low quantile of the
    rounds, not the quickest one, or an ordinary round would read as queueing."""
    c, _ = controller(start=8, most=8)
    answer_rounds(c, 0.1, 2)  # the first BASELINE answers: the no-load level is 0.1
    for n in range(40):  # two quick rounds in a row, once: a lull, not the rule
        answer_rounds(c, 0.07 if n in (12, 13) else 0.125, 1)
    assert c.ceiling is None  # never cut
    assert c.no_load is not None and c.no_load > 0.09  # far above the quick rounds' 0.07


class Tick:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fill(window: LearnedWindow, clock: Tick, times: list[float]) -> list[_Start]:
    starts = []
    for t in times:
        clock.now = t
        starts.append(window.start())
    return starts


def test_the_first_429_teaches_the_window_its_size_and_span() -> None:
    clock = Tick()
    window = LearnedWindow(clock)
    fill(window, clock, [0.0, 0.1, 0.2, 0.3, 0.4])  # five calls the provider took
    clock.now = 0.5
    refused = window.start()
    assert window.room_in() == 0.0  # nothing known yet: no waiting
    assert window.refused(refused, retry_after=0.5)
    # the oldest of the five leaves 0.5 s after the refused call: 5 calls in 1 s
    assert window.size == 5
    assert window.span == pytest.approx(1.0 * (1 + LearnedWindow.MARGIN))
    clock.now = 0.6
    assert window.room_in() == pytest.approx(window.span - 0.6)  # until the call at 0 leaves
    clock.now = 1.05
    assert window.room_in() == 0.0


def test_a_429_for_a_call_the_window_let_through_lengthens_its_span() -> None:
    clock = Tick()
    window = LearnedWindow(clock)
    fill(window, clock, [0.0, 0.1])
    clock.now = 0.2
    window.refused(window.start(), retry_after=0.3)  # 2 calls in 0.5 s (widened)
    assert window.size == 2
    late = fill(window, clock, [0.6, 0.7])
    clock.now = 0.8
    let_through = window.start()
    # the provider still counts the call at 0.6 until 1.5: it counts for 0.9 s
    window.refused(let_through, retry_after=0.7)
    assert window.size == 2
    assert window.span == pytest.approx(0.9 * (1 + LearnedWindow.MARGIN))
    # a 429 for a call that left before that change is the same burst: nothing new
    span = window.span
    window.refused(late[1], retry_after=5.0)
    assert (window.size, window.span) == (2, span)


def test_a_window_that_held_calls_back_for_a_whole_span_without_a_429_lets_more_through() -> None:
    clock = Tick()
    window = LearnedWindow(clock)
    fill(window, clock, [0.0, 0.1])
    clock.now = 0.2
    window.refused(window.start(), retry_after=0.8)  # 2 calls in ~1 s
    span = window.span
    fill(window, clock, [1.0, 1.1])
    clock.now = 1.15
    assert window.room_in() > 0  # full, and learned only 0.95 s ago: the span stands
    assert window.span == span
    clock.now = 1.3
    window.room_in()
    assert window.span == pytest.approx(span * (1 - LearnedWindow.FIRST_STEP))
    assert window.step == 2 * LearnedWindow.FIRST_STEP


async def test_after_a_429_the_gate_lets_calls_out_only_as_the_window_has_room() -> None:
    gate = Gate(lambda: 10)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        async with gate.slot():
            pass
    with pytest.raises(RateLimitedError):
        async with gate.slot():
            raise RateLimitedError("429", retry_after=0.2)
    t0 = loop.time()
    async with gate.slot():  # 3 calls fill the window until the first leaves it
        waited = loop.time() - t0
    assert 0.2 * 0.9 <= waited < 2.0
    assert gate.window.size == 3


async def test_a_429_without_retry_after_lets_one_call_test_the_provider_then_ramps() -> None:
    gate = Gate(lambda: 8)
    with pytest.raises(RateLimitedError):
        async with gate.slot():
            raise RateLimitedError("429")
    probe = gate.slot()
    await probe.__aenter__()
    with pytest.raises(TimeoutError):  # one at a time until one gets through
        await asyncio.wait_for(gate.slot().__aenter__(), timeout=0.05)
    await probe.__aexit__(None, None, None)
    assert gate.ramp == 2
    held = [gate.slot(), gate.slot()]
    for slot in held:
        await asyncio.wait_for(slot.__aenter__(), timeout=1.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.slot().__aenter__(), timeout=0.05)
    for slot in held:
        await slot.__aexit__(None, None, None)
    assert gate.ramp is None  # 2 x 2 = 4, then 8 = all: the limit alone again


def test_under_an_unknown_rpm_limit_the_learned_window_keeps_429s_rare() -> None:
    """Slow start meets the limit once; from then on calls leave as the provider has room
    (about 1.5% of calls answered 429 here, against 5-6% with concurrency cuts alone)."""
    backend = SimulatedBackend(time_scale=FAST, rpm=60)
    script = generate(ADAPTIVE_200, backend)
    assert len(script.scenes) == 200
    assert 0 < script.meta.rate_limited <= 8
    assert backend.calls == 200 + script.meta.rate_limited


def test_answers_of_calls_sent_before_a_cut_do_not_cut_again() -> None:
    """The queue a cut was about drains slowly: its late answers are not news about the
    new limit, or a queue of 32 calls would cut 16 to 11, 7 and 5 one round after another."""
    c, _ = controller(start=2)
    answer_rounds(c, 0.1, 4)  # no-load level 0.1 s, slow start up to 32
    queued = [c.ticket() for _ in range(c.current())]  # a full window, sent into a queue
    answer_rounds(c, 0.4, 1)  # a round of queueing: cut
    after_cut = c.current()
    assert after_cut < 32
    for ticket in queued:  # the old queue's answers arrive late, slower still
        c.on_answer(0.6, ticket)
    assert c.current() == after_cut  # no second cut for the same queue
    answer_rounds(c, 0.4, 1)  # calls sent at the new limit queue too: that is news
    assert c.current() < after_cut


def test_in_slow_start_the_calls_a_doubling_allows_leave_spread_not_in_one_burst() -> None:
    """A burst that crosses a provider's limit is refused whole before its first 429 comes
    back; spread over a call time, only the calls sent while that 429 travels are."""
    c, _ = controller(start=8)
    answer_rounds(c, 0.08, 3)  # the no-load level: 0.08 s, still in slow start
    assert c.slow_start and c.no_load == pytest.approx(0.08)
    gate = Gate(c.current, c)
    starts: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        async def one() -> None:
            async with gate.slot():
                starts.append(loop.time())
                await asyncio.Event().wait()  # stays in flight

        tasks = [asyncio.create_task(one()) for _ in range(8)]
        while len(starts) < 8:
            await asyncio.sleep(0.005)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    spacing = 0.08 / c.current()
    # eight starts at least a spacing apart (a slow machine only spreads them more)
    assert starts[-1] - starts[0] >= 7 * spacing * 0.9


def test_a_first_call_slowed_by_opening_the_connection_does_not_stretch_the_window() -> None:
    """Over HTTP the first call also opens the connection: sent at 0, it reached the
    provider only at 0.3. Counting the window from the send would make it 0.3 s too long
    and leave a quarter of the provider's limit unused."""
    clock = Tick()
    window = LearnedWindow(clock)
    first, *rest = fill(window, clock, [0.0, 0.35, 0.4, 0.45, 0.5])
    first.answered_at = 0.4  # 0.3 s of connection, then a 0.1 s call
    for s in rest:
        s.answered_at = s.at + 0.1  # the typical call: 0.1 s
    clock.now = 0.55
    refused = window.start()
    assert window.refused(refused, retry_after=0.75)  # the first call leaves at 1.3
    # counted from its arrival (0.4 - 0.1 = 0.3), not its send (0): 1.0 s, not 1.3 s
    assert window.span == pytest.approx(1.0 * (1 + LearnedWindow.MARGIN))
