"""What the run list shows and how a run is found (gaps found by mutation testing).

The Runs page and ``storygen resume`` rely on ``RunDir.info()`` and ``RunStore.open()``;
these check each field of a finished, a failed and a crashed run, and the lookup by id,
by path and of a run that is not there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FaultyBackend, fast_policy

from storygen import (
    InvalidRequestError,
    PermanentError,
    RunDir,
    RunFailedError,
    RunStore,
    ScriptRequest,
    generate,
)

REQUEST = ScriptRequest(idea="A fox opens a bakery", duration_s=40, strategy="sequential")


def _failed_run(root: Path) -> RunDir:
    """Five scenes, sequential; scene 3 is refused, so scenes 1 and 2 are on disk."""
    store = RunStore(root)
    backend = FaultyBackend({(3, 1): lambda: PermanentError("the key was rejected")})
    with pytest.raises(RunFailedError):
        generate(REQUEST, backend, store=store, policy=fast_policy(1))
    (run,) = list(store)
    return run


def test_a_finished_run_lists_every_field(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    generate(REQUEST, FaultyBackend({}), store=store, policy=fast_policy())
    (run,) = list(store)
    info = run.info()
    status = json.loads((run.path / "status.json").read_text(encoding="utf-8"))
    assert (info.run_id, info.path, info.status) == (run.path.name, run.path, "finished")
    assert info.created == status["created"] != ""
    assert (info.idea, info.strategy, info.scenes_total, info.scenes_done) == (
        REQUEST.idea,
        "sequential",
        5,
        5,
    )
    assert info.error is None and info.wall_time_s == status["wall_time_s"]
    assert run.load_script() is not None and run.load_outline() is None


def test_a_failed_run_lists_its_error_and_the_scenes_on_disk(tmp_path: Path) -> None:
    info = _failed_run(tmp_path).info()
    assert info.status == "failed"
    assert info.scenes_done == 2
    assert info.error == "scene 3 failed: permanent error: the key was rejected"


def test_a_run_whose_process_died_counts_the_checkpoint_not_its_stale_status(
    tmp_path: Path,
) -> None:
    run = _failed_run(tmp_path)
    run.set_status("running", scenes_done=0)  # what a killed process leaves behind
    assert run.info().scenes_done == 2
    assert run.load_script() is None  # only a finished run has a script.json
    (run.path / "status.json").write_text(json.dumps({"scenes_done": 1}), encoding="utf-8")
    info = run.info()
    assert (info.status, info.created, info.error, info.scenes_done) == ("unknown", "", None, 1)


def test_a_cut_line_in_the_middle_of_the_checkpoint_loses_only_that_line(
    tmp_path: Path,
) -> None:
    run = _failed_run(tmp_path)
    path = run.path / "checkpoint.jsonl"
    first, second = path.read_text(encoding="utf-8").splitlines()
    path.write_text(f'{first}\n{{"scene": {{"ind\n{second}\n', encoding="utf-8")
    assert sorted(run.load_checkpoint()) == [1, 2]


def test_a_run_is_found_by_id_or_by_path_and_a_missing_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _failed_run(tmp_path / "runs")
    store = RunStore(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    assert store.open(run.path.name).path == run.path
    assert store.open(run.path).path == run.path
    assert store.open(Path("runs") / run.path.name).path == Path("runs") / run.path.name
    with pytest.raises(InvalidRequestError) as info:
        store.open("nope")
    assert str(info.value) == "no run at nope: expected a run directory holding request.json"
    assert info.value.field == "run_dir"


@pytest.mark.parametrize("torn", [True, False])
def test_a_resumed_checkpoint_appends_whole_lines_after_a_cut_one(
    tmp_path: Path, torn: bool
) -> None:
    """A kill mid-line leaves no newline: the next scene must start a line of its own."""
    run = _failed_run(tmp_path)
    path = run.path / "checkpoint.jsonl"
    scenes = run.load_checkpoint()
    first, second = path.read_text(encoding="utf-8").splitlines()
    kept = f"{first}\n{second[:25]}" if torn else f"{first}\n"
    path.write_text(kept, encoding="utf-8")
    again = RunDir(run.path)
    again.append(*scenes[2])
    again.close()
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines == ([first, second[:25], second, ""] if torn else [first, second, ""])
    assert sorted(again.load_checkpoint()) == [1, 2]


def test_a_new_run_is_named_by_time_strategy_and_a_short_random_part(tmp_path: Path) -> None:
    import re

    run = RunStore(tmp_path).create(REQUEST, {})
    assert re.fullmatch(r"\d{8}-\d{6}-sequential-[0-9a-f]{6}", run.run_id)
    assert run.path.parent == tmp_path
    status = run.status()
    assert status["status"] == "running"
    assert status["created"].endswith("+00:00") and status["updated"].endswith("+00:00")


def test_the_run_list_is_newest_first(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    names = ["20250101-000000-sequential-aaaaaa", "20270101-000000-sequential-bbbbbb"]
    for name in names:
        run = store.create(REQUEST, {})
        run.path.rename(tmp_path / name)
    assert [r.run_id for r in store.list()] == names[::-1]
    assert RunStore().root == Path("runs")  # the default store is ./runs


@pytest.mark.parametrize("name", ["status.json", "script.json", "timeline.json"])
def test_a_run_file_that_cannot_be_written_names_itself(tmp_path: Path, name: str) -> None:
    from storygen.core.errors import StoreError

    store = RunStore(tmp_path)
    script = generate(REQUEST, FaultyBackend({}), policy=fast_policy())
    run = store.create(REQUEST, {})
    (run.path / name).unlink(missing_ok=True)
    (run.path / name).mkdir()  # the OS refuses to replace a folder with a file
    with pytest.raises(StoreError) as info:
        if name == "status.json":
            run.set_status("failed")
        else:
            run.write_script(script)
    assert str(info.value).startswith(f"could not write {name} in {run.path / name}: ")
    assert info.value.path == str(run.path / name)
