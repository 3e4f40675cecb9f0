"""Continuity in the frames, the charts and the report: the numbers a user compares speed with.

Findings are planted by hand where a count matters, so a test never depends on what the
simulated LLM happens to write.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from storygen import Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.charts import (
    ESTIMATED_NOTE,
    comparison_figures,
    continuity_figure,
    timeline_figure,
    tradeoff_figure,
)
from storygen.analysis.frames import (
    SUMMARY_COLUMNS,
    batch_frame,
    display_summary,
    scenes_of,
    summary_frame,
)
from storygen.analysis.report import comparison_report
from storygen.analysis.tables import FINDING_COLUMNS, findings_frame, script_frame
from storygen.core.continuity import KINDS, Finding

FAST = 0.002
BASE = ScriptRequest(idea="A fox opens a bakery", duration_s=96)  # 12 scenes
OLDER_COLUMNS = SUMMARY_COLUMNS[: SUMMARY_COLUMNS.index("findings")]


def _finding(scene: int, kind: str, evidence: str = "") -> Finding:
    return Finding.model_validate(
        {
            "scene": scene,
            "kind": kind,
            "detail": f"{kind} in scene {scene}",
            "evidence": evidence or f"scene {scene}: the text",
        }
    )


PLANTED = [
    _finding(2, "name_variant", 'characters: Elina <not "Elena">'),
    _finding(2, "look_missing"),
    _finding(2, "look_missing"),
    _finding(7, "narration_too_long"),
]


def _with(script: Script, findings: list[Finding]) -> Script:
    return script.model_copy(update={"findings": findings})


@pytest.fixture(scope="module")
def runs() -> list[Script]:
    """sequential (clean), batched(3) (four findings) and batched(6) (one)."""
    out = []
    for strategy, size in (("sequential", 1), ("batched", 3), ("batched", 6)):
        request = BASE.model_copy(update={"strategy": strategy, "concurrency": size})
        out.append(generate(request, SimulatedBackend(time_scale=FAST)))
    return [_with(out[0], []), _with(out[1], PLANTED), _with(out[2], PLANTED[3:])]


def test_the_summary_counts_findings_in_all_per_10_scenes_and_by_kind(runs) -> None:
    summary = summary_frame(runs)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert list(summary["findings"]) == [0, 4, 1]
    assert list(summary["findings_per_10_scenes"]) == pytest.approx([0, 10 * 4 / 12, 10 / 12])
    row = summary.iloc[1]
    assert {k: row[f"findings_{k}"] for k in KINDS} == {
        "unknown_character": 0,
        "name_variant": 1,
        "look_missing": 2,
        "narration_too_long": 1,
        "repetition": 0,
    }
    assert math.isnan(row["findings_before_repair"]) and row["repair_calls"] == 0


def test_the_new_columns_come_after_every_older_one_in_their_order() -> None:
    assert SUMMARY_COLUMNS[: len(OLDER_COLUMNS)] == OLDER_COLUMNS
    assert OLDER_COLUMNS[-1] == "final_concurrency"
    assert SUMMARY_COLUMNS[len(OLDER_COLUMNS) :] == (
        "findings",
        "findings_per_10_scenes",
        *(f"findings_{k}" for k in KINDS),
        "findings_before_repair",
        "repair_calls",
        # streamed answers, after the continuity columns (issue 20)
        "time_to_summary_s",
        "runaways",
    )


def test_a_repaired_run_shows_its_findings_before_and_its_repair_calls(runs) -> None:
    meta = runs[1].meta.model_copy(
        update={"findings_before": {"name_variant": 5, "look_missing": 2}, "repair_calls": 3}
    )
    repaired = runs[1].model_copy(update={"meta": meta})
    row = summary_frame([runs[0], repaired]).iloc[1]
    assert (row["findings"], row["findings_before_repair"], row["repair_calls"]) == (4, 7, 3)
    assert display_summary(summary_frame([runs[0], repaired]))["Repair calls"].tolist() == [0, 3]


def test_a_script_saved_before_runs_recorded_findings_is_checked_when_shown(runs) -> None:
    older = runs[1].model_dump(mode="json")
    del older["findings"]
    script = Script.model_validate(older)
    assert script.findings == []  # it loads, but an absent list is no clean bill
    (row,) = summary_frame([script], baseline="estimated").itertuples()
    assert row.findings == len(script.check())
    # a list read back from a file is what the run found, even when empty
    clean = Script.model_validate({**older, "findings": []})
    assert summary_frame([clean], baseline="estimated")["findings"].tolist() == [0]


def test_the_displayed_summary_says_how_many_and_which(runs) -> None:
    shown = display_summary(summary_frame(runs))
    columns = list(shown.columns)
    lag = columns.index("Mean context lag (scenes)")
    assert columns[lag + 1 : lag + 4] == ["Continuity findings", "Findings by kind", "Repair calls"]
    assert shown["Continuity findings"].tolist() == [0, 4, 1]
    assert shown["Findings by kind"].tolist() == [
        "—",
        "1 name_variant, 2 look_missing, 1 narration_too_long",
        "1 narration_too_long",
    ]
    assert display_summary(summary_frame([], baseline="estimated")).empty


def test_the_script_table_says_what_was_found_in_each_scene(runs) -> None:
    table = script_frame(runs[1].scenes, runs[1].findings)
    assert table.columns[-1] == "findings"
    by_scene = dict(zip(table["scene"], table["findings"], strict=True))
    assert by_scene[2] == "name_variant, 2 look_missing"
    assert by_scene[7] == "narration_too_long"
    assert {v for k, v in by_scene.items() if k not in (2, 7)} == {""}
    assert set(script_frame(runs[1].scenes)["findings"]) == {""}  # a live view: no check yet


def test_the_findings_table_lists_each_finding_with_its_evidence(runs) -> None:
    table = findings_frame(runs)
    assert tuple(table.columns) == FINDING_COLUMNS
    assert table["config"].tolist() == ["batched(3)"] * 4 + ["batched(6)"]
    rows = table.drop(columns="config").to_dict("records")
    assert [Finding.model_validate(r) for r in rows] == [*PLANTED, PLANTED[3]]
    assert findings_frame(runs[:1]).empty and tuple(findings_frame([]).columns) == FINDING_COLUMNS


def test_the_continuity_chart_puts_speed_against_findings(runs) -> None:
    summary = summary_frame(runs)
    fig = continuity_figure(summary)
    points = {(label, x, y) for t in fig.data for label, x, y in zip(t.text, t.x, t.y, strict=True)}
    assert points == set(
        zip(summary["config"], summary["findings"], summary["speedup"], strict=True)
    )
    assert fig.layout.title.text == "Speed vs continuity findings"
    assert "continuity findings" in fig.layout.xaxis.title.text
    assert "with %{x} continuity findings" in fig.data[0].hovertemplate
    estimated = summary_frame(runs[1:], baseline="estimated")
    assert ESTIMATED_NOTE in continuity_figure(estimated).layout.title.text
    empty = continuity_figure(summary.iloc[0:0])
    assert "No finished run" in empty.layout.annotations[0].text


def test_the_continuity_chart_sits_next_to_speed_vs_context_lag(runs) -> None:
    scenes = scenes_of(runs)
    summary = summary_frame(runs)
    figures = comparison_figures(scenes, batch_frame(scenes), summary)
    names = list(figures)
    assert names[names.index("tradeoff") + 1] == "continuity"
    # the two share their look: same y axis, points labelled by configuration
    lag = tradeoff_figure(summary)
    assert figures["continuity"].layout.yaxis.range == lag.layout.yaxis.range


def test_the_html_report_closes_with_every_finding_and_its_evidence(runs) -> None:
    scenes = scenes_of(runs)
    summary = summary_frame(runs)
    figures = comparison_figures(scenes, batch_frame(scenes), summary)
    html = comparison_report(summary, figures, BASE, findings=findings_frame(runs))
    section = html[html.index("<h2>Continuity</h2>") :]
    assert html.index('id="chart-continuity"') < html.index("<h2>Continuity</h2>")
    assert "<p>sequential: no findings</p>" in section
    assert (
        "<summary>batched(3): 4 findings (1 name_variant, 2 look_missing, "
        "1 narration_too_long)</summary>" in section
    )
    assert "<summary>batched(6): 1 finding (1 narration_too_long)</summary>" in section
    assert section.count("<li>") == 5
    assert "<b>Scene 2</b> · name_variant: name_variant in scene 2" in section
    assert "<q>characters: Elina &lt;not &quot;Elena&quot;&gt;</q>" in section  # escaped
    assert "<h2>Continuity</h2>" not in comparison_report(summary, figures, BASE)


def test_an_empty_findings_table_still_says_each_configuration_is_clean(runs) -> None:
    summary = summary_frame(runs[:1], baseline="estimated")
    empty = pd.DataFrame(columns=list(FINDING_COLUMNS))
    html = comparison_report(summary, {}, BASE, findings=empty)
    assert "<p>sequential: no findings</p>" in html


def test_repair_calls_and_the_bible_call_have_their_own_rows_and_bars() -> None:
    """A real repaired run with a story bible: its repair calls are rows of kind "repair"
    (after the scene's first call), the bible call is scene 0, and the Gantt draws each in
    its own colour, under its own legend entry."""
    request = ScriptRequest(
        idea="A heist", duration_s=80, strategy="batched", concurrency=10, repair=True
    )
    repaired = generate(request, SimulatedBackend(time_scale=FAST))
    assert repaired.meta.repair_calls >= 1  # batch 1 invents its cast ten times
    bible_run = generate(
        request.model_copy(update={"bible": True, "repair": False}),
        SimulatedBackend(time_scale=FAST),
    )
    scenes = scenes_of([repaired, bible_run], ["repaired", "bible"])
    mine = scenes[scenes["config"] == "repaired"]
    repairs = mine[mine["kind"] == "repair"]
    assert len(repairs) == repaired.meta.repair_calls
    assert (mine["kind"] == "scene").sum() == 10
    for scene in repairs["scene"]:  # a repair comes after the scene's first call
        calls = mine[mine["scene"] == scene]
        assert list(calls["kind"]) == ["scene", "repair"]
        assert calls["start_s"].iloc[1] >= calls["end_s"].iloc[0]
    (bible,) = scenes[scenes["kind"] == "bible"].itertuples()
    assert (bible.config, bible.scene) == ("bible", 0)
    assert (bible.start_s, bible.end_s) == (
        bible_run.meta.bible_start_s,
        bible_run.meta.bible_end_s,
    )
    assert set(batch_frame(scenes)["batch"]) == {1}  # the repair pass is no batch
    fig = timeline_figure(scenes)
    (repair_bars,) = [t for t in fig.data if t.name == "repair call"]
    assert list(repair_bars.y) == list(repairs["scene"])
    assert list(repair_bars.base) == pytest.approx(list(repairs["start_s"]))
    (bible_bar,) = [t for t in fig.data if t.name == "story bible call"]
    assert list(bible_bar.y) == [0] and repair_bars.marker.color != bible_bar.marker.color
