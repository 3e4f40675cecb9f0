"""DataFrames into Plotly figures, and the standalone HTML report."""

from __future__ import annotations

import pandas as pd
import pytest

from storygen import Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.charts import (
    BATCH_COLOURS,
    ESTIMATED_NOTE,
    WAIT_COLOUR,
    batch_time_figure,
    comparison_figures,
    speedup_figure,
    timeline_figure,
    tradeoff_figure,
)
from storygen.analysis.frames import batch_frame, scenes_of, summary_frame
from storygen.analysis.report import comparison_report

BASE = ScriptRequest(idea="A fox opens a bakery", duration_s=96)  # 12 scenes


@pytest.fixture(scope="module")
def runs() -> list[Script]:
    out = []
    for strategy, size in (("sequential", 1), ("batched", 3), ("batched", 5), ("windowed", 4)):
        request = BASE.model_copy(update={"strategy": strategy, "concurrency": size})
        out.append(generate(request, SimulatedBackend(time_scale=0.002)))
    return out


@pytest.fixture(scope="module")
def frames(runs):  # type: ignore[no-untyped-def]
    scenes = scenes_of(runs)
    return scenes, batch_frame(scenes), summary_frame(runs)


def _bars(fig, name_prefix: str = ""):  # type: ignore[no-untyped-def]
    return [t for t in fig.data if t.type == "bar" and (t.name or "").startswith(name_prefix)]


def test_the_timeline_has_a_lane_per_configuration_with_every_scene(frames) -> None:
    scenes, _, _ = frames
    fig = timeline_figure(scenes)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["sequential", "batched(3)", "batched(5)", "windowed(4)"]
    for config in titles:
        (bars,) = [t for t in fig.data if t.name == config]
        rows = scenes[(scenes["config"] == config) & (scenes["kind"] == "scene")]
        assert list(bars.y) == list(rows["scene"])
        assert list(bars.base) == pytest.approx(list(rows["start_s"]))
        assert list(bars.x) == pytest.approx(list(rows["call_s"]))


def test_timeline_colour_is_the_batch_and_grey_is_the_wait_for_stragglers(frames) -> None:
    scenes, _, _ = frames
    fig = timeline_figure(scenes)
    (b3,) = [t for t in fig.data if t.name == "batched(3)"]
    rows = scenes[(scenes["config"] == "batched(3)") & (scenes["kind"] == "scene")]
    for colour, batch in zip(b3.marker.color, rows["batch"], strict=True):
        assert colour == BATCH_COLOURS[(batch - 1) % len(BATCH_COLOURS)]
    assert len(set(b3.marker.color)) == 4  # 12 scenes, 4 batches of 3
    waits = [t for t in fig.data if t.name == "waiting for the batch's straggler"]
    assert len(waits) == 2  # batched(3) and batched(5) only: nothing else has a barrier
    assert all(t.marker.color == WAIT_COLOUR for t in waits)
    waiting = rows[rows["wait_s"] > 0]
    assert list(waits[0].x) == pytest.approx(list(waiting["wait_s"]))
    assert list(waits[0].base) == pytest.approx(list(waiting["end_s"]))


def test_time_per_batch_stacks_the_straggler_wait_on_the_median_call(frames) -> None:
    _, batches, _ = frames
    fig = batch_time_figure(batches)
    names = [t.name for t in fig.data]
    assert "sequential: median call" not in names
    for config in ("batched(3)", "batched(5)", "windowed(4)"):
        rows = batches[batches["config"] == config]
        (median,) = [t for t in fig.data if t.name == f"{config}: median call"]
        (wait,) = [t for t in fig.data if t.name == f"{config}: straggler wait"]
        assert list(median.y) == pytest.approx(list(rows["median_call_s"]))
        assert list(wait.y) == pytest.approx(list(rows["straggler_wait_s"]))
        assert list(wait.base) == pytest.approx(list(rows["median_call_s"]))


def test_speedup_chart_has_the_ideal_line_and_one_point_per_configuration(frames) -> None:
    _, _, summary = frames
    fig = speedup_figure(summary)
    ideal = fig.data[0]
    assert ideal.name.startswith("ideal") and list(ideal.x) == list(ideal.y) == [1, 5]
    points = {(x, y) for t in fig.data[1:] for x, y in zip(t.x, t.y, strict=True)}
    expected = set(zip(summary["concurrency"], summary["speedup"], strict=True))
    assert points == expected
    assert ESTIMATED_NOTE not in fig.layout.title.text


def test_an_estimated_baseline_is_written_on_the_charts(runs) -> None:
    summary = summary_frame(runs[1:], baseline="estimated")
    assert ESTIMATED_NOTE in speedup_figure(summary).layout.title.text
    assert ESTIMATED_NOTE in tradeoff_figure(summary).layout.title.text


def test_the_trade_off_chart_puts_speed_against_context_lag(frames) -> None:
    _, _, summary = frames
    fig = tradeoff_figure(summary)
    points = {(label, x, y) for t in fig.data for label, x, y in zip(t.text, t.x, t.y, strict=True)}
    expected = set(
        zip(summary["config"], summary["mean_context_lag"], summary["speedup"], strict=True)
    )
    assert points == expected


def test_charts_of_nothing_say_so_instead_of_failing() -> None:
    empty = pd.DataFrame(columns=["config", "kind", "scene"])
    fig = timeline_figure(empty)
    assert "No scene" in fig.layout.annotations[0].text
    assert "no batches" in batch_time_figure(pd.DataFrame()).layout.annotations[0].text


def test_the_html_report_is_standalone_with_the_table_and_every_chart(frames) -> None:
    scenes, batches, summary = frames
    figures = comparison_figures(scenes, batches, summary)
    html = comparison_report(summary, figures, BASE)
    assert html.startswith("<!DOCTYPE html>")
    for config in summary["config"]:
        assert f"<td>{config}</td>" in html
    for name in figures:
        assert f'id="chart-{name}"' in html
    assert html.count("Plotly.newPlot") == 5  # and speed vs continuity findings
    # plotly.js inlined once, no script loaded from the network: it opens offline
    assert html.count("plotly.js v") == 1
    assert "<script src=" not in html
    assert BASE.idea in html
    assert ESTIMATED_NOTE not in html


def test_the_report_escapes_the_idea_and_notes_an_estimated_baseline(runs) -> None:
    summary = summary_frame(runs[1:], baseline="estimated")
    request = BASE.model_copy(update={"idea": "<script>alert(1)</script>"})
    html = comparison_report(summary, {}, request)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert ESTIMATED_NOTE in html
