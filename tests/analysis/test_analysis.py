"""Timelines into DataFrames: every number follows DESIGN.md's definitions."""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest

from storygen import RunFailedError, RunStore, Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.frames import (
    batch_frame,
    display_summary,
    measured_baseline,
    scene_frame,
    scenes_of,
    sequential_estimate,
    summary_frame,
)
from storygen.analysis.tables import latest_first, runs_frame, script_frame
from storygen.core.labels import labels_for
from storygen.core.pricing import estimate_cost
from storygen.scheduling.ideal import ideal_of, mean_lag

FAST = 0.002
BASE = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=160)  # 20 scenes


def _run(strategy: str, size: int, **changes: object) -> Script:
    request = BASE.model_copy(update={"strategy": strategy, "concurrency": size, **changes})
    return generate(request, SimulatedBackend(time_scale=FAST))


@pytest.fixture(scope="module")
def runs() -> list[Script]:
    """One request, same seed: sequential, batched(3), batched(5), outline(5)."""
    return [_run("sequential", 1), _run("batched", 3), _run("batched", 5), _run("outline", 5)]


def test_a_scene_frame_has_a_row_per_scene_and_one_for_the_outline_call(runs) -> None:
    outline = runs[3]
    frame = scenes_of([outline])
    assert list(frame["kind"]) == ["outline"] + ["scene"] * 20
    plan = frame.iloc[0]
    assert (plan["start_s"], plan["end_s"]) == (
        outline.meta.outline_start_s,
        outline.meta.outline_end_s,
    )
    body = frame[frame["kind"] == "scene"]
    assert list(body["scene"]) == list(range(1, 21))
    timing = {t.index: t for t in outline.meta.timeline}
    for row in body.itertuples():
        assert row.call_s == pytest.approx(timing[row.scene].end_s - timing[row.scene].start_s)
        assert row.context_lag == timing[row.scene].context_lag


def test_a_batched_scene_waits_until_its_batch_straggler_ends(runs) -> None:
    frame = scenes_of([runs[1]])
    for _, batch in frame.groupby("batch"):
        straggler_end = batch["end_s"].max()
        assert list(batch["wait_s"]) == pytest.approx(list(straggler_end - batch["end_s"]))
        assert batch["wait_s"].min() == 0.0  # the straggler itself does not wait
    for other in (runs[0], runs[3]):  # no barrier, no waiting
        assert (scenes_of([other])["wait_s"] == 0).all()


def test_batch_time_is_first_start_to_last_end_and_straggler_wait_its_excess(runs) -> None:
    scenes = scenes_of(runs)
    batches = batch_frame(scenes)
    assert "sequential" not in set(batches["config"])  # one scene at a time: no batches
    assert list(batches[batches["config"] == "batched(5)"]["batch"]) == [1, 2, 3, 4]
    for row in batches.itertuples():
        members = scenes[
            (scenes["config"] == row.config)
            & (scenes["batch"] == row.batch)
            & (scenes["kind"] == "scene")
        ]
        assert row.batch_time_s == pytest.approx(members["end_s"].max() - members["start_s"].min())
        median = statistics.median(members["call_s"])
        assert row.straggler_wait_s == pytest.approx(max(0.0, row.batch_time_s - median))
        assert row.scenes == len(members)


def test_speedup_is_sequential_wall_over_wall_and_efficiency_per_slot(runs) -> None:
    summary = summary_frame(runs)
    sequential_wall = runs[0].meta.wall_time_s
    assert list(summary["config"]) == ["sequential", "batched(3)", "batched(5)", "outline(5)"]
    for row, script in zip(summary.itertuples(), runs, strict=True):
        assert row.baseline == "measured"
        assert row.speedup == pytest.approx(sequential_wall / script.meta.wall_time_s)
        assert row.efficiency == pytest.approx(row.speedup / script.meta.concurrency)
        assert row.ideal_makespan_s == pytest.approx(ideal_of(script))
        assert row.mean_context_lag == pytest.approx(mean_lag(script))
        assert row.total_tokens == script.meta.prompt_tokens + script.meta.completion_tokens
    assert summary["speedup"].iloc[0] == 1.0
    ideal = summary["ideal_makespan_s"]  # not the wall clock: this machine is shared
    assert ideal.iloc[2] < ideal.iloc[1]  # batches of 5 beat batches of 3


def test_an_estimated_baseline_is_the_sum_of_a_runs_own_call_times(runs) -> None:
    summary = summary_frame(runs[1:], baseline="estimated")
    for row, script in zip(summary.itertuples(), runs[1:], strict=True):
        calls = math.fsum(t.service_s for t in script.meta.timeline)
        assert row.sequential_s == pytest.approx(calls) == sequential_estimate(script)
        assert row.speedup == pytest.approx(calls / script.meta.wall_time_s)
    shown = display_summary(summary)
    assert all(s.endswith("x (est.)") for s in shown["Speedup"])


def test_a_measured_baseline_needs_a_sequential_run_of_the_same_work(runs) -> None:
    assert measured_baseline(runs) is runs[0]
    assert measured_baseline(runs[1:]) is None
    other = _run("sequential", 1, idea="Something else entirely")
    assert measured_baseline([other, runs[1]]) is None
    with pytest.raises(ValueError, match="sequential run of the same request"):
        summary_frame([other, runs[1]])
    # the same request at another time scale is no baseline either
    assert measured_baseline(runs[:2], [{"time_scale": 1.0}, {"time_scale": 0.01}]) is None
    assert measured_baseline(runs[:2], [{"time_scale": 0.01}, {"time_scale": 0.01}]) is runs[0]


def test_cost_of_an_unknown_model_is_not_available_rather_than_zero(runs) -> None:
    known = runs[1].model_copy(
        update={"meta": runs[1].meta.model_copy(update={"model": "gpt-4o-mini"})}
    )
    unknown = runs[1].model_copy(
        update={"meta": runs[1].meta.model_copy(update={"model": "mystery-7b"})}
    )
    summary = summary_frame([known, unknown], ["known", "unknown"], baseline="estimated")
    meta = known.meta
    expected = estimate_cost("gpt-4o-mini", meta.prompt_tokens, meta.completion_tokens)
    assert summary["cost_usd"].iloc[0] == pytest.approx(expected)
    assert pd.isna(summary["cost_usd"].iloc[1])
    assert list(display_summary(summary)["Cost (USD)"]) == [f"${expected:.4f}", "n/a"]


def test_repeated_configurations_get_numbered_labels(runs) -> None:
    assert labels_for([runs[1], runs[0], runs[1]]) == [
        "batched(3) #1",
        "sequential",
        "batched(3) #2",
    ]


def test_a_live_view_shows_the_latest_finished_scene_first(runs) -> None:
    script = runs[2]
    partial = script.meta.timeline[:7]
    frame = scene_frame(partial, "batched(5)", "batched")
    assert len(frame) == 7
    assert scene_frame([], "x", "batched").empty
    live = latest_first(script.scenes[:7], partial)
    by_end = sorted(partial, key=lambda t: t.end_s, reverse=True)
    assert list(live["scene"]) == [t.index for t in by_end]


def test_the_script_table_has_a_row_per_scene_with_readable_lists(runs) -> None:
    script = runs[0]
    table = script_frame(script.scenes)
    assert list(table["scene"]) == list(range(1, 21))
    first = script.scenes[0]
    assert table["characters"].iloc[0] == ", ".join(first.characters)
    assert table["dialogues"].iloc[0].count("\n") == max(0, len(first.dialogues) - 1)


def test_the_run_history_shows_status_and_progress(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    generate(BASE, SimulatedBackend(time_scale=FAST), store=store)
    with pytest.raises(RunFailedError):
        generate(BASE, SimulatedBackend(time_scale=FAST, fail_scenes=[2]), store=store)
    frame = runs_frame(store.list())
    by_status = dict(zip(frame["status"], frame["scenes"], strict=True))
    assert by_status["finished"] == "20/20"
    done, total = by_status["failed"].split("/")
    assert total == "20" and 0 < int(done) < 20
    assert set(frame["strategy"]) == {"batched(5)"}
    times = dict(zip(frame["status"], frame["wall time (s)"], strict=True))
    assert float(times["finished"]) > 0
    assert float(times["failed"]) > 0  # the time until it failed, not "None"
    unknown = dataclasses.replace(store.list()[0], wall_time_s=None)
    assert runs_frame([unknown])["wall time (s)"].iloc[0] == "—"
