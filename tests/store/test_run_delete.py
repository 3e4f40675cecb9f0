"""A run being written cannot be deleted: its writer would fail at the end with its files
gone. The writer lock says who holds it; a run nobody writes is deleted as before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import FAST

from storygen import RunDir, RunFailedError, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.core.errors import InvalidRequestError, RunLockedError

REQUEST = ScriptRequest(idea="A heist", duration_s=80, strategy="windowed", concurrency=3)


def failed_run(store: RunStore) -> RunDir:
    with pytest.raises(RunFailedError):
        generate(REQUEST, SimulatedBackend(time_scale=FAST, fail_scenes={4}), store=store)
    (run,) = store
    return run


def test_a_run_being_written_is_not_deleted_and_the_refusal_names_its_writer(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path)
    run = failed_run(store)
    with RunDir(run.path).writer():  # a writer of its own, as another process holds it
        assert (run.in_use() or "").startswith(f"process {os.getpid()} on ")
        with pytest.raises(RunLockedError) as refused:
            store.delete(run.run_id)
        assert str(refused.value).startswith(
            f"cannot delete run {run.run_id}: it is being written by process {os.getpid()} on "
        )
        assert str(refused.value).endswith("wait for it to finish, or cancel it first")
        assert run.exists() and [i.run_id for i in store.list()] == [run.run_id]
    assert run.in_use() is None
    store.delete(run.run_id)  # nobody writes it now
    assert not run.path.exists() and store.list() == []


def test_a_run_never_locked_is_not_in_use_and_a_deleted_run_says_so(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = failed_run(store)
    (run.path / ".lock").unlink()
    assert run.in_use() is None
    store.delete(run.path)
    assert run.in_use() is None and not run.exists()
    with pytest.raises(InvalidRequestError, match=f"^run {run.run_id} no longer exists"):
        run.ensure_exists()
    with pytest.raises(InvalidRequestError, match="no run at"):
        store.delete(run.run_id)
