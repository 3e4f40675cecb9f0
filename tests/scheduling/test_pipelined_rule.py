"""The pipelined rule: scene k starts on the summaries of 1..k-A, not on whole scenes."""

from __future__ import annotations

import pytest

from storygen.core.models import ScriptRequest
from storygen.scheduling.scheduler import Scheduler, ideal_makespan
from storygen.scheduling.strategies import Pipelined, Windowed, strategy_for


def test_the_next_scene_starts_on_a_summary_before_its_predecessor_is_written() -> None:
    sched = Scheduler(Pipelined(10), total=5)
    assert sched.startable() == [1]
    assert sched.startable() == []  # scene 1's summary is not known yet
    sched.summary_known(1)
    assert sched.startable() == [2]
    assert sched.context_upto(2) == 1 and sched.context_lag(2) == 0
    sched.summary_known(2)
    assert sched.startable() == [3]
    assert sched.progress.in_flight == 3 and sched.progress.prefix == 0


def test_the_window_caps_calls_in_flight_whatever_is_known() -> None:
    sched = Scheduler(Pipelined(2), total=5)
    assert sched.startable() == [1]
    sched.summary_known(1)
    assert sched.startable() == [2]
    sched.summary_known(2)
    assert sched.startable() == []  # two in flight
    sched.finish(1)
    assert sched.startable() == [3]


def test_a_lag_allowance_of_two_lets_scene_k_start_without_k_minus_1() -> None:
    sched = Scheduler(Pipelined(10, lag_allowance=2), total=6)
    assert sched.startable() == [1, 2]  # scene 2 needs scene 0's summary: none
    sched.summary_known(2)  # known out of order: the prefix of known summaries is still 0
    assert sched.startable() == []
    sched.summary_known(1)
    assert sched.startable() == [3, 4]
    assert sched.context_lag(4) == 1  # scene 3's summary is not known yet


def test_a_finished_scene_counts_as_known_and_is_counted_once() -> None:
    sched = Scheduler(Pipelined(10), total=3)
    sched.startable()
    sched.summary_known(1)
    sched.finish(1)
    assert sched.known_count == 1 and sched.progress.summarized == 1


def test_a_resumed_runs_pinned_summaries_count_as_known() -> None:
    sched = Scheduler(Pipelined(10), total=5, done=[1], known=[2])
    assert sched.startable() == [2, 3]  # 2 is not written yet; its summary was told
    assert sched.context_lag(3) == 0


def test_the_request_picks_the_rule_with_a_default_lag_allowance_of_one() -> None:
    rule = strategy_for(ScriptRequest(idea="x", duration_s=80, strategy="pipelined", concurrency=4))
    assert rule == Pipelined(4, 1)
    assert rule.pipelines and rule.caps_in_flight and rule.adapts
    assert not strategy_for(ScriptRequest(idea="x", duration_s=80)).pipelines


def test_the_ideal_makespan_follows_the_summaries_by_hand() -> None:
    service = {1: 10.0, 2: 10.0, 3: 10.0}
    after = {1: 2.0, 2: 3.0, 3: 1.0}
    # starts at 0, 2, 5; ends at 10, 12, 15
    assert ideal_makespan(Pipelined(10), service, summary_after=after) == pytest.approx(15.0)
    # one at a time: the window holds scene 3 until scene 1 ends at 10
    assert ideal_makespan(Pipelined(2), service, summary_after=after) == pytest.approx(20.0)
    # without summary times a pipelined rule waits for whole scenes
    assert ideal_makespan(Pipelined(10), service) == pytest.approx(30.0)
    # other rules ignore them
    windowed = ideal_makespan(Windowed(10, 1), service, summary_after=after)
    assert windowed == pytest.approx(30.0)
