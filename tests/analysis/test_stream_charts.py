"""Streamed answers on the charts and in the tables: the Gantt marks each scene's first token
and summary, pipelined sits at lag 0 on "speed vs context lag", and the summary table says
the time to summary and the runaway answers cut."""

from __future__ import annotations

import math

import pytest

from storygen import Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.charts import (
    FIRST_TOKEN,
    STRATEGY_COLOURS,
    SUMMARY_KNOWN,
    comparison_figures,
    timeline_figure,
    tradeoff_figure,
)
from storygen.analysis.frames import (
    batch_frame,
    display_summary,
    scene_frame,
    scenes_of,
    summary_frame,
)
from storygen.analysis.report import comparison_report

BASE = ScriptRequest(idea="A fox opens a bakery", duration_s=96)  # 12 scenes


@pytest.fixture(scope="module")
def runs() -> list[Script]:
    out = []
    for strategy, size in (("sequential", 1), ("windowed", 4), ("pipelined", 4)):
        request = BASE.model_copy(update={"strategy": strategy, "concurrency": size})
        out.append(generate(request, SimulatedBackend(time_scale=0.002)))
    return out


def _marks(fig, name: str):  # type: ignore[no-untyped-def]
    return [t for t in fig.data if t.type == "scatter" and t.name == name]


def test_the_gantt_marks_first_token_and_summary_on_each_streamed_bar(runs) -> None:
    scenes = scenes_of(runs)
    fig = timeline_figure(scenes)
    piped = runs[2].meta.timeline
    (first,) = _marks(fig, FIRST_TOKEN)  # only the pipelined lane streamed
    (known,) = _marks(fig, SUMMARY_KNOWN)
    assert list(first.y) == [t.index for t in piped]
    assert list(first.x) == pytest.approx([t.first_token_s for t in piped])
    assert list(known.x) == pytest.approx([t.summary_s for t in piped])
    # on the pipelined lane's axes (the third subplot), inside each bar
    assert first.yaxis == known.yaxis == "y3"
    for t in piped:
        assert t.start_s <= t.first_token_s <= t.summary_s <= t.end_s  # type: ignore[operator]
    # the hover says how long after its call's start the summary was known
    assert list(known.customdata) == pytest.approx([t.time_to_summary_s for t in piped])
    assert "after its call started" in known.hovertemplate


def test_runs_that_did_not_stream_have_no_marks(runs) -> None:
    fig = timeline_figure(scenes_of(runs[:2]))
    assert not _marks(fig, FIRST_TOKEN) and not _marks(fig, SUMMARY_KNOWN)


def test_a_scene_with_runaways_says_so_in_its_hover(runs) -> None:
    timeline = [
        t.model_copy(update={"runaways": 2 if t.index == 5 else 0}) for t in runs[2].meta.timeline
    ]
    frame = scene_frame(timeline, "pipelined(4)", "pipelined")
    (bar,) = [t for t in timeline_figure(frame).data if t.name == "pipelined(4)"]
    notes = [row[3] for row in bar.customdata]
    assert notes[4] == "<br>2 runaway answers cut" and notes[3] == ""


def test_the_summary_table_has_time_to_summary_and_runaways(runs) -> None:
    summary = summary_frame(runs)
    piped = runs[2].meta.timeline
    mean = sum(t.time_to_summary_s for t in piped) / len(piped)  # type: ignore[misc]
    row = summary.set_index("config").loc["pipelined(4)"]
    assert row["time_to_summary_s"] == pytest.approx(mean)
    assert row["runaways"] == 0
    assert math.isnan(summary.set_index("config").loc["windowed(4)", "time_to_summary_s"])
    shown = display_summary(summary)
    columns = list(shown.columns)
    assert columns.index("Time to summary (s)") == columns.index("Measured ÷ ideal") + 1
    assert columns.index("Runaways") == columns.index("Time to summary (s)") + 1
    assert shown["Time to summary (s)"].iloc[2] == pytest.approx(round(mean, 3))
    assert list(shown["Runaways"]) == [0, 0, 0]


def test_runaways_are_counted_per_configuration(runs) -> None:
    piped = runs[2]
    timeline = [t.model_copy(update={"runaways": 1}) for t in piped.meta.timeline[:3]]
    meta = piped.meta.model_copy(update={"timeline": timeline + piped.meta.timeline[3:]})
    summary = summary_frame([runs[0], piped.model_copy(update={"meta": meta})])
    assert list(summary["runaways"]) == [0, 3]


def test_speed_vs_context_lag_shows_pipelined_at_lag_zero(runs) -> None:
    summary = summary_frame(runs)
    fig = tradeoff_figure(summary)
    (point,) = [t for t in fig.data if t.name == "pipelined"]
    assert list(point.text) == ["pipelined(4)"] and list(point.x) == [0]
    assert point.marker.color == STRATEGY_COLOURS["pipelined"]
    assert list(point.y) == pytest.approx(
        list(summary["speedup"][summary["strategy"] == "pipelined"])
    )
    (windowed,) = [t for t in fig.data if t.name == "windowed"]
    assert windowed.x[0] > 0  # what pipelining avoids


def test_the_report_carries_the_new_columns_and_the_marks(runs) -> None:
    scenes = scenes_of(runs)
    summary = summary_frame(runs)
    figures = comparison_figures(scenes, batch_frame(scenes), summary)
    html = comparison_report(summary, figures, BASE)
    assert "<th>Time to summary (s)</th>" in html and "<th>Runaways</th>" in html
    assert SUMMARY_KNOWN in html and FIRST_TOKEN in html
