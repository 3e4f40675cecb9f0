"""The scheduler's bookkeeping on its own: admission in order, stop, abandon, resume.

A mistake here shows in a run only as a stall (caught late, by the test timeout) or not
at all; these checks name the rule that broke (gaps found by mutation testing).
"""

from __future__ import annotations

import pytest

from storygen.scheduling.scheduler import Scheduler, ideal_makespan
from storygen.scheduling.strategies import Batched, OutlineFirst, Progress, Sequential, Windowed


def test_admits_in_index_order_up_to_the_window_and_refills_as_scenes_finish() -> None:
    sched = Scheduler(Windowed(3, lag_allowance=10), total=6)
    assert sched.startable() == [1, 2, 3]
    assert sched.startable() == []  # the window is full
    sched.finish(2)
    assert sched.progress.prefix == 0  # scene 1 still runs
    assert sched.startable() == [4]
    sched.finish(1)
    assert sched.progress.prefix == 2
    assert sched.startable() == [5]
    for k in (3, 4, 5):
        sched.finish(k)
    assert sched.startable() == [6]
    assert not sched.finished
    sched.finish(6)
    assert sched.finished and sched.idle and sched.done_count == 6


def test_an_abandoned_scene_frees_exactly_its_slot_and_is_not_done() -> None:
    sched = Scheduler(Windowed(3, lag_allowance=10), total=6)
    assert sched.startable() == [1, 2, 3]
    sched.abandon(1)
    assert sched.progress.in_flight == 2
    assert not sched.is_done(1) and sched.done_count == 0
    assert sched.startable() == [4]
    for k in (2, 3, 4):
        sched.abandon(k)
    assert sched.idle


def test_after_stop_nothing_more_is_admitted_but_calls_in_flight_may_finish() -> None:
    sched = Scheduler(Batched(2), total=6)
    assert sched.startable() == [1, 2]
    sched.stop()
    sched.finish(1)
    sched.finish(2)
    assert sched.startable() == []
    assert sched.idle and not sched.finished


def test_no_outline_scene_is_admitted_before_the_outline() -> None:
    sched = Scheduler(OutlineFirst(2), total=4)
    assert sched.startable() == []
    sched.outline_done()
    assert sched.startable() == [1, 2]


def test_a_resumed_run_skips_done_scenes_and_counts_them_in_the_prefix() -> None:
    sched = Scheduler(Sequential(), total=6, done=[4, 2, 2, 1, 6])
    assert sched.done_count == 4
    assert sched.progress == Progress(prefix=2, summarized=2)  # done scenes' summaries are known
    assert [sched.is_done(k) for k in range(1, 7)] == [True, True, False, True, False, True]
    assert sched.startable() == [3]
    sched.finish(3)
    assert sched.progress.prefix == 4  # 3 closes the gap up to the pre-done 4
    assert sched.startable() == [5]
    sched.finish(5)
    assert sched.startable() == []  # the last scene was written before
    assert sched.finished and sched.idle


def test_context_lag_counts_earlier_scenes_not_done_at_start() -> None:
    sched = Scheduler(Windowed(4, lag_allowance=10), total=8, done=[2, 6])
    assert sched.startable() == [1, 3, 4, 5]
    assert sched.context_lag(1) == 0
    assert sched.context_lag(3) == 1  # scene 1 runs
    assert sched.context_lag(5) == 3  # 1, 3, 4 run; 2 was done before
    sched.finish(3)
    assert sched.startable() == [7]
    assert sched.context_lag(7) == 3  # 1, 4, 5 run; 2, 3 and 6 are done
    assert sched.context_upto(7) == 0  # the prefix: scene 1 is not done


def test_ideal_of_nothing_is_zero_and_the_outline_costs_nothing_by_default() -> None:
    assert ideal_makespan(Sequential(), {}) == 0.0
    assert ideal_makespan(OutlineFirst(2), {1: 2.0, 2: 3.0}) == pytest.approx(3.0)


class NeverAdmits:
    """A broken rule: the model must say so, not loop forever."""

    name = "broken"
    concurrency = 2
    needs_outline = False

    def may_start(self, k: int, p: Progress) -> bool:
        return False

    def context_upto(self, k: int, p: Progress) -> int:
        return 0

    def group(self, k: int) -> int:
        return 1


def test_a_rule_that_admits_nothing_stalls_loudly() -> None:
    with pytest.raises(RuntimeError, match=r"^ideal schedule stalled$"):
        ideal_makespan(NeverAdmits(), {1: 1.0})


class AdmitsAll(NeverAdmits):
    """A rule with no limit of its own: the scheduler's cap is all that holds it."""

    def may_start(self, k: int, p: Progress) -> bool:
        return True


def test_the_scheduler_never_puts_more_than_the_concurrency_in_flight() -> None:
    sched = Scheduler(AdmitsAll(), total=5)
    assert sched.startable() == [1, 2]
    sched.finish(1)
    assert sched.startable() == [3]


def test_an_adaptive_cap_limits_the_calls_in_flight_below_the_window() -> None:
    limit = [2]
    sched = Scheduler(Windowed(4, lag_allowance=10), total=8, cap=lambda: limit[0])
    assert sched.startable() == [1, 2]
    limit[0] = 3
    assert sched.startable() == [3]
    limit[0] = 9  # never above the strategy's own window
    assert sched.startable() == [4]
    limit[0] = 1
    sched.finish(1)
    assert sched.startable() == []  # three still in flight, over the new cap


def test_a_new_scheduler_is_not_stopped_and_a_full_run_reads_no_scene_past_the_last() -> None:
    sched = Scheduler(Sequential(), 3)
    assert sched.stopped is False
    for k in range(1, 4):
        assert sched.startable() == [k]
        sched.finish(k)
    assert sched.finished and sched.progress.prefix == 3
