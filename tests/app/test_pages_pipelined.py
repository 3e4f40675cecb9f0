"""The pipelined strategy on the pages: Generate offers it with its lag allowance and shows
the streamed answers on the timeline; Compare runs pipelined lanes beside the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _dashboard import open_app, poll, shown_after

from storygen import RunStore
from storygen.analysis.charts import FIRST_TOKEN, SUMMARY_KNOWN

GENERATE = "pages/generate.py"
COMPARE = "pages/compare.py"
LAG = "Lag allowance (0 = default)"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def _traces(chart) -> list[str]:  # type: ignore[no-untyped-def]
    """The trace names of a plotly chart element, from the figure the page sent."""
    return [t.get("name") for t in json.loads(chart.proto.spec)["data"]]


def test_the_lag_allowance_field_is_there_for_windowed_and_pipelined_only(
    monkeypatch, runs
) -> None:
    at = open_app(monkeypatch, runs)
    assert "pipelined" in at.selectbox(key="gen_strategy").options
    labels = lambda: {n.label for n in at.main.number_input}  # noqa: E731
    assert LAG not in labels()  # batched, the default
    for strategy, shown in (("windowed", True), ("pipelined", True), ("outline", False)):
        at.selectbox(key="gen_strategy").set_value(strategy).run()
        assert (LAG in labels()) is shown, strategy


def test_a_pipelined_run_streams_and_its_timeline_marks_each_summary(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)  # 10 scenes
    at.selectbox(key="gen_strategy").set_value("pipelined").run()
    at.number_input(key="gen_concurrency").set_value(4)
    at.number_input(key="gen_lag_allowance").set_value(2)
    at.button[0].click().run()
    poll(at, lambda at: len(at.success) > 0)
    assert "10 scenes" in at.success[0].value and "pipelined(4)" in at.success[0].value
    assert any("Answers streamed" in c.value for c in at.caption)
    (chart,) = at.get("plotly_chart")  # the timeline tab
    assert {FIRST_TOKEN, SUMMARY_KNOWN} <= set(_traces(chart))
    (info,) = RunStore(runs).list()
    assert (info.strategy, info.status) == ("pipelined", "finished")
    (run,) = RunStore(runs)
    assert run.request().lag_allowance == 2


def test_a_bad_lag_allowance_is_said_right_below_the_field(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.selectbox(key="gen_strategy").set_value("pipelined").run()
    at.number_input(key="gen_lag_allowance").set_value(-3)
    at.button[0].click().run()
    message = shown_after(at.main, LAG)
    assert message is not None and message.type == "error", message
    assert "lag_allowance" in message.value
    assert "job_generate" not in at.session_state


def test_compare_offers_pipelined_lanes_and_runs_them(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=COMPARE)
    lanes = at.multiselect(key="cmp_pipelined")
    assert lanes.value == [] and "adaptive" in lanes.options
    at.number_input(key="cmp_duration").set_value(80)
    at.multiselect(key="cmp_batched").set_value([4])
    at.multiselect(key="cmp_pipelined").set_value([4]).run()
    at.button[0].click().run()
    poll(at, lambda at: any("Configuration" in d.value.columns for d in at.dataframe))
    summary = next(d.value for d in at.dataframe if "Configuration" in d.value.columns)
    assert list(summary["Configuration"]) == ["sequential", "batched(4)", "pipelined(4)"]
    row = summary.set_index("Configuration").loc["pipelined(4)"]
    assert row["Mean context lag (scenes)"] == 0 and row["Time to summary (s)"] > 0
    assert row["Runaways"] == 0
    timeline = at.get("plotly_chart")[0]
    assert SUMMARY_KNOWN in _traces(timeline)
    stored = sorted(i.strategy for i in RunStore(runs).list())
    assert stored == ["batched", "pipelined", "sequential"]
