"""Continuity on screen: the Generate page's findings column and Continuity tab, the repair
switch on Generate and Compare, and the Compare page's continuity column and chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _dashboard import FAST, open_app, poll, texts

from storygen import RunStore, Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.tables import script_frame
from storygen.core.continuity import Finding, summary_line

EVIDENCE_COLUMNS = ["scene", "kind", "detail", "evidence"]


def _frame_with(at: Any, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _findings_shown(at: Any) -> list[Finding]:
    table = _frame_with(at, "evidence")
    return [Finding.model_validate(r) for r in table[EVIDENCE_COLUMNS].to_dict("records")]


def _finished(runs: Path) -> list[Script]:
    return [s for i in RunStore(runs).list() if (s := RunStore(runs).open(i.run_id).load_script())]


def test_generate_shows_each_scenes_findings_and_a_continuity_tab_with_the_evidence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)  # 10 scenes
    at.number_input(key="gen_concurrency").set_value(10)  # one batch: it invents its cast
    at.button[0].click().run()
    poll(at, lambda at: len(at.success) > 0)
    (script,) = _finished(runs)
    assert script.findings, "a first batch of ten, with no bible, disagrees on its cast"

    continuity = f"Continuity ({len(script.findings)})"  # the count on the tab
    assert [t.label for t in at.tabs] == ["Table", "Screenplay", "Timeline", continuity]
    table = at.dataframe[0].value
    assert table.columns[-1] == "findings"
    expected = script_frame(script.scenes, script.findings)["findings"]
    assert table["findings"].tolist() == expected.tolist()
    assert any(table["findings"])  # the flagged scenes say what was found
    assert summary_line(script.findings) in [m.value.strip("*") for m in at.markdown]
    assert _findings_shown(at) == script.findings


def _stored(runs: Path, **changes: Any) -> str:
    """A finished run in the store whose script says what ``changes`` say."""
    store = RunStore(runs)
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=24)
    script = generate(request, SimulatedBackend(time_scale=FAST), store=store)
    meta = script.meta.model_copy(update=changes.pop("meta", {}))
    store.open(script.meta.run_id).write_script(script.model_copy(update={"meta": meta, **changes}))
    return script.meta.run_id


PLANTED = [
    Finding(
        scene=2,
        kind="name_variant",
        detail='"Marah" is close to "Mara" (scene 1) but spelled differently',
        evidence="characters: Marah, Ines",
    ),
    Finding(
        scene=3,
        kind="narration_too_long",
        detail="about 9.6 s of speech for an 8 s clip (24 words at 2.5 words/s)",
        evidence="narration: The fox kneads the dough ...",
    ),
]


def test_the_continuity_tab_lists_planted_findings_and_what_a_repair_changed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    run_id = _stored(
        runs, findings=PLANTED, meta={"findings_before": {"name_variant": 4}, "repair_calls": 2}
    )
    at = open_app(monkeypatch, runs, page="pages/runs.py")
    at.selectbox(key="runs_open").set_value(run_id).run()
    assert not at.exception
    assert _findings_shown(at) == PLANTED
    assert "Before the repair pass: 4 findings; 2 repair calls." in [c.value for c in at.caption]
    table = _frame_with(at, "findings")
    by_scene = dict(zip(table["scene"], table["findings"], strict=True))
    assert (by_scene[1], by_scene[2], by_scene[3]) == ("", "name_variant", "narration_too_long")


def test_a_clean_script_says_so_in_its_continuity_tab(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    run_id = _stored(runs, findings=[])
    at = open_app(monkeypatch, runs, page="pages/runs.py")
    at.selectbox(key="runs_open").set_value(run_id).run()
    assert any("No continuity findings" in s.value for s in at.success)
    assert not [d for d in at.dataframe if "evidence" in d.value.columns]
    assert "Continuity (0)" in [t.label for t in at.tabs]
    assert not any("repair pass" in t for t in texts(at))  # no repair, nothing said about one


@pytest.mark.parametrize(("page", "key"), [("", "gen_repair"), ("pages/compare.py", "cmp_repair")])
def test_the_repair_switch_is_on_both_pages_and_off_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, page: str, key: str
) -> None:
    at = open_app(monkeypatch, tmp_path / "runs", page=page)
    switch = at.checkbox(key=key)
    assert switch.label == "Repair continuity" and switch.value is False
    assert "budget" in (switch.help or "")


def test_a_run_started_with_repair_on_repairs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)
    at.number_input(key="gen_concurrency").set_value(10)
    at.checkbox(key="gen_repair").check().run()
    at.button[0].click().run()
    poll(at, lambda at: len(at.success) > 0)
    (info,) = RunStore(runs).list()
    request = json.loads((info.path / "request.json").read_text(encoding="utf-8"))
    assert request["repair"] is True
    (script,) = _finished(runs)
    assert script.meta.findings_before is not None and script.meta.repair_calls >= 1
    shown = [c.value for c in at.caption]
    before = sum(script.meta.findings_before.values())
    assert (
        f"Before the repair pass: {before} findings; {script.meta.repair_calls} repair calls."
        in shown
    )


def test_compare_shows_each_lanes_findings_and_speed_against_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs, page="pages/compare.py")
    at.number_input(key="cmp_duration").set_value(80)
    at.multiselect(key="cmp_batched").set_value([10])
    at.checkbox(key="cmp_repair").check().run()
    at.button[0].click().run()
    poll(at, lambda at: any("Configuration" in d.value.columns for d in at.dataframe))
    summary = _frame_with(at, "Configuration").set_index("Configuration")
    by_strategy = {s.request.strategy: s for s in _finished(runs)}
    lanes = {"sequential": by_strategy["sequential"], "batched(10)": by_strategy["batched"]}
    assert all(s.request.repair for s in lanes.values())  # the switch reached every lane
    for label, script in lanes.items():
        assert summary.loc[label, "Continuity findings"] == len(script.findings)
        assert summary.loc[label, "Repair calls"] == script.meta.repair_calls
    assert "Findings by kind" in summary.columns
    charts = [c.key for c in at.get("plotly_chart")]
    assert charts.index("cmp_continuity") == charts.index("cmp_tradeoff") + 1  # side by side
