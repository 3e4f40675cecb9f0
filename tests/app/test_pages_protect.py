"""Runs in use are protected and a page action never ends on Streamlit's error page: a
refused delete, a resume of a deleted run, an unexpected error, each one line next to its
button."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from _dashboard import FAST, open_app, poll, shown_after
from streamlit.testing.v1 import AppTest

from storygen import RunDir, RunFailedError, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.jobs import worker

RUNS = "pages/runs.py"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """One run that failed at scene 3 of 10: Resume and Delete are both offered."""
    root = tmp_path / "runs"
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=80)
    with pytest.raises(RunFailedError):
        generate(request, SimulatedBackend(time_scale=FAST, fail_scenes=[3]), store=RunStore(root))
    return root


def _open_failed(monkeypatch: pytest.MonkeyPatch, runs: Path) -> tuple[AppTest, RunDir]:
    at = open_app(monkeypatch, runs, page=RUNS)
    (info,) = RunStore(runs).list()
    at.selectbox(key="runs_open").set_value(info.run_id).run()
    assert not at.exception, at.exception
    return at, RunDir(info.path)


def test_delete_is_refused_while_the_run_is_being_written(monkeypatch, runs) -> None:
    at, run = _open_failed(monkeypatch, runs)
    at.checkbox(key="runs_confirm").check().run()
    with RunDir(run.path).writer():  # the run's writer, as the CLI resuming it holds it
        at.button(key="runs_delete").click().run()
    assert not at.exception, at.exception
    (line,) = [e.value for e in at.error if "cannot delete" in e.value]
    assert line.startswith(
        f"cannot delete run {run.run_id}: it is being written by process {os.getpid()} on "
    )
    message = shown_after(at.main, "Yes, delete this run and its files")
    assert message is not None and message.value == line  # next to the button
    assert run.exists() and at.selectbox(key="runs_open").value == run.run_id

    at.button(key="runs_delete").click().run()  # the writer is gone: deleted now
    assert not at.exception, at.exception
    assert not run.path.exists()
    assert "No runs yet" in at.info[0].value


def test_resume_of_a_run_deleted_meanwhile_says_so_on_the_runs_page(monkeypatch, runs) -> None:
    at, run = _open_failed(monkeypatch, runs)
    RunStore(runs).delete(run.run_id)  # from another tab, or the CLI
    at.button(key="runs_resume").click().run()  # the page, drawn again, no longer lists it
    assert not at.exception, at.exception
    assert at.title[0].value == "Runs"  # stayed: nothing to continue on Generate
    assert f"run {run.run_id} no longer exists: it was deleted" in [e.value for e in at.error]
    assert "job_generate" not in at.session_state


def test_resume_of_a_run_deleted_meanwhile_says_so_on_the_generate_page(
    monkeypatch, tmp_path
) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)
    at.number_input(key="gen_fail_scene").set_value(6)
    at.button[0].click().run()
    poll(at, _has_resume)  # the run failed at scene 6: Resume is offered
    (info,) = RunStore(runs).list()
    RunStore(runs).delete(info.run_id)  # on the Runs page, by another visitor

    at.button(key="gen_resume").click().run()
    assert not at.exception, at.exception
    message = shown_after(at.main, "Resume")
    assert message is not None and message.type == "error"
    assert message.value == f"run {info.run_id} no longer exists: it was deleted"
    assert not runs.joinpath(info.run_id).exists()  # nothing written again


def _has_resume(at: AppTest) -> bool:
    return any(b.key == "gen_resume" for b in at.button)


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged(
    monkeypatch, runs, caplog
) -> None:
    at, run = _open_failed(monkeypatch, runs)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the worker could not start")

    monkeypatch.setattr(worker, "start_resume", broken)
    with caplog.at_level(logging.ERROR, logger="storygen"):
        at.button(key="runs_resume").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Runs"
    said = [e.value for e in at.error if "went wrong" in e.value]
    assert said == [
        "Something went wrong (RuntimeError: the worker could not start); "
        "the details are in the log."
    ]
    (record,) = [r for r in caplog.records if r.name == "storygen"]
    assert record.message == "a page action failed"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert run.status()["status"] == "failed"  # untouched


def test_an_unexpected_error_in_a_callback_is_one_line_next_to_its_button(
    monkeypatch, runs, caplog
) -> None:
    at, run = _open_failed(monkeypatch, runs)

    def refused(self: RunStore, run: object) -> None:
        raise PermissionError(13, "Permission denied", str(runs))

    monkeypatch.setattr(RunStore, "delete", refused)
    at.checkbox(key="runs_confirm").check().run()
    with caplog.at_level(logging.ERROR, logger="storygen"):
        at.button(key="runs_delete").click().run()
    assert not at.exception, at.exception
    message = shown_after(at.main, "Yes, delete this run and its files")
    assert message is not None and message.type == "error"
    assert message.value.startswith("Something went wrong (PermissionError: ")
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [PermissionError]
    assert run.exists() and at.selectbox(key="runs_open").value == run.run_id
