"""A workspace is a store of its own inside the run store: its runs are listed, opened and
deleted only through it, and no id can name a folder outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from storygen import InvalidRequestError, RunStore, ScriptRequest
from storygen.store.run_store import WORKSPACES


def _run(store: RunStore, idea: str) -> str:
    return store.create(ScriptRequest(idea=idea, duration_s=16), {"kind": "simulated"}).run_id


def test_each_workspace_lists_only_its_own_runs(tmp_path: Path) -> None:
    root = RunStore(tmp_path)
    ann, bob = root.workspace("ann-0123456789"), root.workspace("bob-0123456789")
    mine = _run(ann, "A gull learns to read")
    theirs = _run(bob, "Robots open a tea shop")
    assert [i.idea for i in ann.list()] == ["A gull learns to read"]
    assert [i.idea for i in bob.list()] == ["Robots open a tea shop"]
    assert root.list() == []  # the workspaces folder holds no run itself
    assert ann.root == tmp_path / WORKSPACES / "ann-0123456789"
    assert ann.own(mine) is not None and ann.own(theirs) is None
    assert bob.own(theirs) is not None


@pytest.mark.parametrize("bad", ["../../etc", "short", "a/b-0123456789", "", "x" * 65, "ws id 123"])
def test_a_workspace_id_that_could_name_another_folder_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="workspace id must be 8 to 64 letters"):
        RunStore(tmp_path).workspace(bad)


@pytest.mark.parametrize("bad", ["../ann-0123456789/x", "/etc", "..", "a b"])
def test_own_never_opens_a_path(tmp_path: Path, bad: str) -> None:
    store = RunStore(tmp_path).workspace("bob-0123456789")
    _run(RunStore(tmp_path).workspace("ann-0123456789"), "A secret idea")
    assert store.own(bad) is None
