"""Pipelined lanes wherever a comparison is planned: the plan, compare(pipelined=[...]) and
sweep(strategy="pipelined"), on the simulated backend."""

from __future__ import annotations

import math

import pytest

from storygen.comparison import compare, sweep
from storygen.core.models import ScriptRequest
from storygen.runner.plan import ADAPTIVE, Tuning, comparison_plan, plan_requests

IDEA = "A lighthouse keeper finds a map to a drowned city"


def test_the_plan_puts_pipelined_lanes_after_the_others_ascending_once_each() -> None:
    assert comparison_plan([5], [4], [], [10, 3, 10]) == [
        ("sequential", 1),
        ("batched", 5),
        ("windowed", 4),
        ("pipelined", 3),
        ("pipelined", 10),
    ]
    assert comparison_plan([], pipelined=[4], sequential=False, hedged=True) == [
        ("pipelined", 4),
        ("pipelined", 4, Tuning(hedge=True)),
    ]
    assert comparison_plan([], pipelined=[ADAPTIVE], adaptive_max=12)[-1] == (
        "pipelined",
        12,
        Tuning(adaptive=True),
    )


def test_a_pipelined_lane_is_a_pipelined_request_with_its_own_lag_default() -> None:
    base = ScriptRequest(idea=IDEA, duration_s=80)
    (seq, piped) = plan_requests(base, comparison_plan([], pipelined=[6]), True)
    assert (seq.strategy, piped.strategy, piped.concurrency) == ("sequential", "pipelined", 6)
    assert piped.effective_lag_allowance == 1


@pytest.fixture(scope="module")
def comparison():  # type: ignore[no-untyped-def]
    return compare(
        IDEA, [4], windows=[4], pipelined=[4], duration_s=160, time_scale=0.004, progress=False
    )


def test_compare_runs_pipelined_lanes_beside_the_others(comparison) -> None:
    summary = comparison.summary.set_index("config")
    assert list(summary.index) == ["sequential", "batched(4)", "windowed(4)", "pipelined(4)"]
    assert not comparison.failures
    piped = summary.loc["pipelined(4)"]
    assert piped["strategy"] == "pipelined" and piped["scenes"] == 20
    # every earlier summary seen, at more than sequential speed
    assert piped["mean_context_lag"] == 0 and piped["speedup"] > 1.5
    assert summary.loc["windowed(4)", "mean_context_lag"] > 0
    assert piped["time_to_summary_s"] > 0 and piped["runaways"] == 0
    assert math.isnan(summary.loc["batched(4)", "time_to_summary_s"])
    assert not math.isnan(piped["measured_over_ideal"])  # shown as for every strategy


def test_its_timeline_holds_each_pipelined_scene_s_first_token_and_summary(comparison) -> None:
    timeline = comparison.timeline
    piped = timeline[(timeline["config"] == "pipelined(4)") & (timeline["kind"] == "scene")]
    assert len(piped) == 20 and piped["summary_s"].notna().all()
    assert (piped["first_token_s"] <= piped["summary_s"]).all()
    assert (piped["summary_s"] <= piped["end_s"]).all()
    others = timeline[timeline["config"] != "pipelined(4)"]
    assert others["summary_s"].isna().all()


def test_a_sweep_of_pipelined_sizes_runs_each_against_sequential() -> None:
    frame = sweep(IDEA, "pipelined", [2, 4], duration_s=80, time_scale=0.004, progress=False)
    assert list(frame["config"]) == ["sequential", "pipelined(2)", "pipelined(4)"]
    assert list(frame["mean_context_lag"][1:]) == [0, 0]
