"""The Runs page: history from a real run store; open, resume, export, delete, compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import FAST, open_app, poll

from storygen import RunFailedError, RunStore, ScriptRequest, SimulatedBackend, generate

RUNS = "pages/runs.py"
IDEA = "A fox opens a bakery"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Three runs of the same 10-scene request: sequential, batched(5), and one that failed."""
    root = tmp_path / "runs"
    store = RunStore(root)
    base = ScriptRequest(idea=IDEA, duration_s=80)
    for strategy, size in (("sequential", 1), ("batched", 5)):
        request = base.model_copy(update={"strategy": strategy, "concurrency": size})
        generate(request, SimulatedBackend(time_scale=FAST), store=store)
    with pytest.raises(RunFailedError):
        generate(base, SimulatedBackend(time_scale=FAST, fail_scenes=[3]), store=store)
    return root


def _run_id(runs: Path, status: str) -> str:
    return next(i.run_id for i in RunStore(runs).list() if i.status == status)


def test_history_lists_every_run_with_its_status(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=RUNS)
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "run",
        "date",
        "idea",
        "strategy",
        "scenes",
        "status",
        "wall time (s)",
    ]
    assert sorted(table["status"]) == ["failed", "finished", "finished"]
    assert set(table["strategy"]) == {"sequential", "batched(5)"}
    assert "10/10" in set(table["scenes"])


def test_an_empty_store_says_where_to_start(monkeypatch, tmp_path) -> None:
    at = open_app(monkeypatch, tmp_path / "none", page=RUNS)
    assert "No runs yet" in at.info[0].value


def test_opening_a_finished_run_shows_its_script_and_exports(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=RUNS)
    at.selectbox(key="runs_open").set_value(_run_id(runs, "finished")).run()
    assert not at.exception
    assert "10 scenes" in at.success[0].value
    assert [d.label for d in at.download_button][:3] == [
        "Download JSON",
        "Download CSV",
        "Download Markdown",
    ]
    assert at.button(key="runs_resume").disabled


def test_a_failed_run_resumes_from_the_runs_page(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=RUNS)
    failed = _run_id(runs, "failed")
    at.selectbox(key="runs_open").set_value(failed).run()
    assert "scene 3 failed" in at.error[0].value
    kept = at.dataframe[1].value  # after the history table
    assert 3 not in set(kept["scene"])
    at.button(key="runs_resume").click().run()
    assert at.title[0].value == "Generate a script"  # it continues live on the Generate page
    at.switch_page("pages/generate.py")  # where the browser now is (AppTest keeps its own page)
    poll(at, lambda at: len(at.success) > 0)
    assert "10 scenes" in at.success[0].value
    assert RunStore(runs).open(failed).info().status == "finished"


def test_delete_needs_a_confirmation_then_removes_the_run(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=RUNS)
    victim = _run_id(runs, "finished")
    at.selectbox(key="runs_open").set_value(victim).run()
    assert at.button(key="runs_delete").disabled
    at.checkbox(key="runs_confirm").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception
    assert not (runs / victim).exists()
    assert len(at.dataframe[0].value) == 2


def test_picked_runs_are_compared_on_the_same_charts(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=RUNS)
    picker = at.multiselect(key="runs_compare")
    assert len(picker.options) == 2  # only finished runs can be compared
    finished = [i.run_id for i in RunStore(runs).list() if i.status == "finished"]
    picker.set_value(finished).run()
    assert not at.exception
    summary = next(d.value for d in at.dataframe if "Configuration" in d.value.columns)
    assert set(summary["Configuration"]) == {"sequential", "batched(5)"}
    assert not any("est." in s for s in summary["Speedup"])  # same request: a measured baseline
    assert len(at.get("plotly_chart")) == 5  # and speed vs continuity findings
