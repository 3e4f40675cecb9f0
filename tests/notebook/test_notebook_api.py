"""The notebook half of the library: generate() under a running loop, compare(), sweep(),
rich display and the ipywidgets panel, on the simulated backend."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST

import storygen
from storygen import (
    BackendConfig,
    Comparison,
    RunStore,
    ScriptRequest,
    SimulatedBackend,
    analysis,
    generate,
    resume,
)
from storygen.engine.events import Event, SceneFinished
from storygen.notebook import panel

IDEA = "A lighthouse keeper finds a map to a drowned city"


async def test_generate_inside_a_running_event_loop_returns_the_whole_script() -> None:
    asyncio.get_running_loop()  # as in a notebook cell: the kernel's loop is running
    request = ScriptRequest(idea=IDEA, duration_s=160, strategy="windowed", concurrency=4)
    script = generate(request, SimulatedBackend(time_scale=FAST))
    assert [s.index for s in script.scenes] == list(range(1, 21))


async def test_an_interrupt_during_generate_in_a_loop_leaves_a_resumable_run(
    tmp_path: Path,
) -> None:
    """A kernel interrupt is SIGINT to the process: KeyboardInterrupt in the blocked cell."""
    finished: list[int] = []

    def interrupt_after_five(event: Event) -> None:
        if isinstance(event, SceneFinished):
            finished.append(event.scene.index)
            if len(finished) == 5:
                os.kill(os.getpid(), signal.SIGINT)

    store = RunStore(tmp_path)
    request = ScriptRequest(idea=IDEA, duration_s=240, strategy="windowed", concurrency=3)
    backend = SimulatedBackend(time_scale=FAST)
    # while a cell runs, ipykernel lets SIGINT raise KeyboardInterrupt (the test's own
    # asyncio runner would instead turn it into a cancellation at the next await)
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            generate(request, backend, store=store, subscribers=[interrupt_after_five])
    finally:
        signal.signal(signal.SIGINT, saved)
    (run,) = store
    assert run.status()["status"] == "interrupted"
    kept = run.load_checkpoint()
    assert 5 <= len(kept) < 30
    calls_before = backend.calls
    assert calls_before < 30  # no new scene started once interrupted

    again = SimulatedBackend(time_scale=FAST)
    script = resume(run, again)
    assert [s.index for s in script.scenes] == list(range(1, 31))
    assert again.calls == 30 - len(kept)
    assert run.status()["status"] == "finished"


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return storygen.compare(
        IDEA, [3, 5], windows=[4], outline_windows=[6], duration_s=240, time_scale=FAST
    )


def test_compare_runs_every_configuration_against_a_measured_sequential_run(
    comparison: Comparison,
) -> None:
    assert list(comparison.scripts) == [
        "sequential",
        "batched(3)",
        "batched(5)",
        "windowed(4)",
        "outline(6)",
    ]
    assert comparison.baseline == "measured" and not comparison.failures
    for label, script in comparison.scripts.items():
        assert [s.index for s in script.scenes] == list(range(1, 31)), label
    # speedup is the sequential wall time over each run's, from the scripts themselves
    seq = comparison.scripts["sequential"].meta.wall_time_s
    for _, row in comparison.summary.iterrows():
        wall = comparison.scripts[row["config"]].meta.wall_time_s
        assert row["speedup"] == pytest.approx(seq / wall)


def test_every_lane_meets_the_same_drawn_latencies(comparison: Comparison) -> None:
    service = {
        label: [t.service_s for t in script.meta.timeline]
        for label, script in comparison.scripts.items()
    }
    first = service["sequential"]
    assert len(set(first)) > 20  # the latencies really vary from scene to scene
    for label, times in service.items():
        assert times == first, label


def test_the_frames_are_the_ones_analysis_builds(comparison: Comparison) -> None:
    scripts, labels = list(comparison.scripts.values()), list(comparison.scripts)
    pd.testing.assert_frame_equal(
        comparison.summary, analysis.summary_frame(scripts, labels, baseline="measured")
    )
    timeline = analysis.scenes_of(scripts, labels)
    pd.testing.assert_frame_equal(comparison.timeline, timeline)
    pd.testing.assert_frame_equal(comparison.batches, analysis.batch_frame(timeline))
    written = comparison.scenes
    assert len(written) == 5 * 30
    five = written[written["config"] == "batched(5)"]
    assert list(five["title"]) == [s.title for s in comparison.scripts["batched(5)"].scenes]
    assert set(comparison.figures) == {
        "timeline",
        "batch_time",
        "speedup",
        "tradeoff",
        "continuity",
    }


def test_the_rich_display_holds_the_summary_table_and_the_speedup_chart(
    comparison: Comparison,
) -> None:
    page = comparison._repr_html_()
    assert page.count("<table") == 1
    for _, row in comparison.summary.iterrows():
        assert f"<td>{row['config']}</td>" in page
        assert f"{row['speedup']:.2f}x" in page
    assert "Speedup vs sequential" in page and "plotly" in page
    assert len(repr(comparison)) < 200 and "5 configurations" in repr(comparison)


def test_a_script_shows_its_title_logline_and_first_scenes(comparison: Comparison) -> None:
    script = comparison.scripts["outline(6)"]
    assert script.outline is not None
    page = script._repr_html_()
    assert script.title in page and script.outline.logline in page
    assert page.count("<tr") == 1 + 10  # the header and the first ten scenes
    # a scene's narration is its own text (titles may repeat: "Jonas and the map")
    assert script.scenes[9].narration in page and script.scenes[10].narration not in page
    assert repr(script).startswith(f"<Script {script.title!r}: 30 scenes, outline(6)")


def test_compare_exports_the_page_files(comparison: Comparison, tmp_path: Path) -> None:
    csv = pd.read_csv(comparison.to_csv(tmp_path / "summary.csv"))
    assert list(csv["config"]) == list(comparison.summary["config"])
    data = json.loads(comparison.to_json(tmp_path / "results.json").read_text())
    assert len(data["summary"]) == 5 and len(data["scenes"]) == len(comparison.timeline)
    html = comparison.report(tmp_path / "report.html").read_text()
    assert html.count('class="chart"') == 5 and IDEA in html


def test_compare_saves_every_lane_in_a_store_and_reports_a_failed_lane(tmp_path: Path) -> None:
    config = BackendConfig(time_scale=FAST)
    request = ScriptRequest(idea=IDEA, duration_s=80, seed=3)
    result = storygen.compare(request, [2], backend=config, store=RunStore(tmp_path))
    assert {r.status for r in RunStore(tmp_path).list()} == {"finished"}
    assert len(RunStore(tmp_path).list()) == 2 and not result.failures


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(storygen.InvalidRequestError, match="concurrency"):
        storygen.compare(IDEA, [0], time_scale=FAST, progress=False)
    with pytest.raises(storygen.InvalidRequestError, match="strategy must be one of"):
        storygen.sweep(IDEA, "parallel", time_scale=FAST)  # type: ignore[arg-type]
    paid = BackendConfig(kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(storygen.InvalidRequestError, match="time_scale"):
        storygen.compare(IDEA, backend=paid, time_scale=0.1)


def test_sweep_gives_one_row_per_size_against_sequential() -> None:
    frame = storygen.sweep(IDEA, "batched", sizes=[1, 2, 4], duration_s=160, time_scale=FAST)
    assert list(frame["config"]) == ["sequential", "batched(1)", "batched(2)", "batched(4)"]
    for column in ("speedup", "efficiency", "mean_context_lag", "total_tokens"):
        assert frame[column].notna().all(), column
    assert frame["measured_over_ideal"].between(0.9, 3).all()  # a generous sanity bound
    assert list(frame["mean_context_lag"]) == [0.0, 0.0, 0.5, 1.5]  # lag within a batch
    figure = storygen.sweep_figure(frame)
    ideal, *runs = figure.data
    assert list(ideal.x) == [1, 4] and list(ideal.y) == [1, 4]
    assert sorted(runs[1].x) == [1, 2, 4]


def test_live_bars_redraw_in_place_and_can_be_turned_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    storygen.compare(IDEA, [5], duration_s=400, time_scale=FAST)
    err = capsys.readouterr().err
    assert "sequential" in err and "batched(5)" in err and "50/50" in err
    assert err.count("\n") <= 4  # never a line per scene: 100 scenes were written
    storygen.compare(IDEA, [5], duration_s=80, time_scale=FAST, progress=False)
    assert capsys.readouterr().err == ""


def test_the_panel_builds_and_one_click_on_run_produces_a_comparison() -> None:
    p = panel(idea="A fox opens a bakery", duration_s=80, batch_sizes=(2, 4), time_scale=FAST)
    assert p.result is None
    p.run_button.click()
    assert isinstance(p.result, Comparison)
    assert list(p.result.scripts) == ["sequential", "batched(2)", "batched(4)"]
    assert p.sizes_error.value == "" and p.run_error.value == ""


def test_the_panel_says_what_is_wrong_next_to_the_field() -> None:
    p = panel(time_scale=FAST)
    p.sizes.value = "3, five"
    p.run_button.click()
    assert "whole numbers" in p.sizes_error.value and p.result is None
    p.sizes.value = "3"
    p.duration.value = 4
    p.run_button.click()
    assert "duration_s" in p.duration_error.value and p.result is None
    assert not p.run_button.disabled  # ready for the next try
