"""The files a change leaves in a run directory: versions/NNNN.json is never overwritten, and
history.jsonl says what each change did; a change that cannot write its script leaves none."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from conftest import FAST

from storygen import (
    InvalidRequestError,
    RunDir,
    RunStore,
    ScriptRequest,
    SimulatedBackend,
    edit,
    generate,
    regenerate,
)
from storygen.core.errors import StoreError

REQUEST = ScriptRequest(idea="A heist at the opera", duration_s=48, concurrency=2)


def finished_run(tmp_path: Path) -> RunDir:
    store = RunStore(tmp_path / "runs")
    generate(REQUEST, SimulatedBackend(time_scale=FAST), store=store)
    return next(iter(store))


def test_a_version_file_is_never_overwritten(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    run.save_version(0, "first")
    run.save_version(0, "first")  # a change retried after a kill: the same text is fine
    with pytest.raises(InvalidRequestError, match="never overwritten"):
        run.save_version(0, "other")
    assert (run.path / "versions" / "0000.json").read_text() == "first"


def test_each_change_keeps_the_script_before_it_and_one_history_line(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    texts = [run.script_text()]
    edit(run, scene=2, narration="Ünïcode — stays as written.")
    texts.append(run.script_text())
    regenerate(run, scenes=[1], note="at dawn")

    assert [run.version_text(n) for n in (0, 1)] == texts
    lines = (run.path / "history.jsonl").read_text("utf-8").splitlines()
    changes = [json.loads(line) for line in lines]
    assert [(c["number"], c["action"], c["scenes"]) for c in changes] == [
        (1, "edit", [2]),
        (2, "regenerate", [1]),
    ]
    assert changes[1]["note"] == "at dawn" and changes[1]["attempts"] == {"1": 1}
    assert changes[1]["prompt_tokens"] > 0
    assert run.status()["status"] == "finished"


def test_a_script_that_cannot_be_written_takes_its_history_line_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = finished_run(tmp_path)
    before = run.script_text()

    def disk_full(self: RunDir, text: str) -> None:
        raise StoreError("script.json", self.path, OSError(errno.ENOSPC, "No space left"))

    monkeypatch.setattr(RunDir, "save_script_text", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        edit(run, scene=1, title="Never saved")
    assert run.script_text() == before
    assert run.read_history() == []
    monkeypatch.undo()
    edit(run, scene=1, title="Saved")  # the version kept before the failure is reused
    assert run.read_history()[0]["number"] == 1
    assert run.version_text(0) == before
