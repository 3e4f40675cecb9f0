"""Background jobs: they run, report live progress, fail clearly, resume, and compare fairly."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import storygen
from storygen import InvalidRequestError, RunStore, ScriptRequest
from storygen.backends.config import BackendConfig
from storygen.backends.factory import build_backend
from storygen.backends.preflight import check_backend
from storygen.core.secrets import mask
from storygen.engine.events import Event, SceneFinished
from storygen.jobs.bulk import BulkJob
from storygen.jobs.child import ChildJob, spawn_entry
from storygen.jobs.lane import Lane
from storygen.jobs.worker import (
    Job,
    _Task,
    start_comparison,
    start_generate,
    start_resume,
)
from storygen.runner.plan import comparison_plan
from storygen.store import RunDir

FAST = BackendConfig.build_config(kind="simulated", time_scale=0.002)
SLOW = BackendConfig.build_config(kind="simulated", time_scale=1.0)  # ~8 s a call
REQUEST = ScriptRequest(idea="A heist in a lighthouse", duration_s=80)  # 10 scenes


def _until(holds: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``holds`` (a lane's snapshot, fed by the child's events) with a deadline."""
    deadline = time.monotonic() + timeout
    while not holds():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)  # a poll interval, not a synchronisation: the loop waits on state


def _checkpointed(run_dir: RunDir) -> list[int]:
    """Every scene index in checkpoint.jsonl, line by line, repeats included."""
    lines = (run_dir.path / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["scene"]["index"] for line in lines]


def test_a_generation_runs_in_the_background_and_is_checkpointed(tmp_path: Path) -> None:
    job = start_generate(REQUEST, FAST, store=RunStore(tmp_path))
    assert job.wait(30)
    (lane,) = job.lanes
    assert (job.status, lane.status, lane.error) == ("finished", "finished", None)
    assert lane.result is not None and len(lane.result.scenes) == 10
    snap = lane.snapshot()
    assert (snap.status, snap.done, snap.total) == ("finished", 10, 10)
    assert lane.run_dir is not None and lane.run_dir.info().status == "finished"


def test_progress_is_visible_while_scenes_are_being_written() -> None:
    slow = BackendConfig.build_config(kind="simulated", time_scale=0.005)
    request = REQUEST.model_copy(update={"strategy": "sequential", "concurrency": 1})
    job = start_generate(request, slow)  # 10 calls of ~40 ms, one after another
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while not job.done and time.monotonic() < deadline:
        snap = job.lanes[0].snapshot()
        seen.add(snap.done)
        assert [s.index for s in snap.scenes] == list(range(1, snap.done + 1))
    assert job.done
    assert any(0 < n < 10 for n in seen)  # partial progress was observable


def test_a_failure_keeps_its_scenes_and_resume_writes_only_the_rest(tmp_path: Path) -> None:
    job = start_generate(REQUEST, FAST, store=RunStore(tmp_path), fail_scenes=[4])
    assert job.wait(30)
    (lane,) = job.lanes
    assert lane.status == "failed" and lane.failed_scene == 4
    assert "scene 4 failed" in (lane.error or "")
    assert lane.run_dir is not None
    kept = lane.run_dir.load_checkpoint()
    assert 0 < len(kept) < 10 and 4 not in kept
    assert [s.index for s in lane.scenes()] == sorted(kept)

    again = start_resume(lane.run_dir)
    assert again.wait(30)
    (resumed,) = again.lanes
    assert resumed.status == "finished", resumed.error
    assert resumed.result is not None
    assert [s.index for s in resumed.result.scenes] == list(range(1, 11))
    # the earlier scenes come with the resumed lane, the new ones from its own progress
    assert [s.index for s in resumed.scenes()] == list(range(1, 11))
    assert resumed.snapshot().done == 10
    assert lane.run_dir.info().status == "finished"


def test_cancel_keeps_every_finished_scene_and_resume_writes_only_the_rest(
    tmp_path: Path,
) -> None:
    """Cancel stops the child mid-run: the run is "interrupted" on disk, not failed, and
    keeps exactly the scenes written before it; resume then writes the others, once each."""
    slowish = BackendConfig.build_config(kind="simulated", time_scale=0.05)  # ~0.4 s a call
    job = start_generate(REQUEST, slowish, store=RunStore(tmp_path))
    (lane,) = job.lanes
    _until(lambda: lane.snapshot().done >= 1)
    job.cancel()
    assert job.wait(30)
    assert (job.status, lane.status, lane.error, lane.result) == (
        "cancelled",
        "cancelled",
        None,
        None,
    )
    kept = [s.index for s in lane.scenes()]
    assert 1 <= len(kept) < 10
    assert lane.note == f"cancelled: {len(kept)} of 10 scenes kept; Resume finishes it"
    assert lane.run_dir is not None
    status = lane.run_dir.status()
    assert (status["status"], status["scenes_done"]) == ("interrupted", len(kept))
    assert sorted(_checkpointed(lane.run_dir)) == kept  # on disk: exactly what was shown

    written: list[int] = []

    def record(event: Event) -> None:
        if isinstance(event, SceneFinished):
            written.append(event.scene.index)

    script = storygen.resume(lane.run_dir, build_backend(FAST), subscribers=[record])
    assert sorted(written) == sorted(set(range(1, 11)) - set(kept))
    assert [s.index for s in script.scenes] == list(range(1, 11))
    assert sorted(_checkpointed(lane.run_dir)) == list(range(1, 11))  # no scene twice
    assert lane.run_dir.info().status == "finished"


def _every_lane_started(job: Job) -> bool:
    return all(lane.snapshot().status == "running" for lane in job.lanes)


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(lambda job: True, id="before-the-child-starts-a-run"),
        pytest.param(_every_lane_started, id="while-every-lane-runs"),
    ],
)
def test_cancel_ends_every_lane_of_a_comparison_as_a_resumable_run(
    tmp_path: Path, when: Callable[[Job], bool]
) -> None:
    """However early Cancel comes, no lane is left running, reported as failed, or left
    "running" on disk: each is cancelled, its run "interrupted", and resume finishes it."""
    job = start_comparison(REQUEST, comparison_plan([5]), SLOW, store=RunStore(tmp_path))
    _until(lambda: when(job))
    job.cancel()
    assert job.wait(30)
    assert job.status == "cancelled"
    for lane in job.lanes:
        assert (lane.status, lane.error) == ("cancelled", None)
        assert lane.note == "cancelled: 0 of 10 scenes kept; Resume finishes it"
        assert lane.run_dir is not None and lane.run_dir.status()["status"] == "interrupted"
    first = job.lanes[0].run_dir
    assert first is not None
    assert len(storygen.resume(first, build_backend(FAST)).scenes) == 10


def test_the_child_answers_sigint_with_a_cancelled_lane_each_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    """SIGINT is how Cancel (or Ctrl-C where the app runs) stops the child: it must say
    "cancelled" for every lane itself and exit 0, with no traceback for anyone to read."""
    store = RunStore(tmp_path)
    tasks = [
        _Task("generate", REQUEST, str(store.create(REQUEST, SLOW.settings()).path), SLOW)
        for _ in range(2)
    ]
    child, events, errors = spawn_entry(Job.entry, pickle.dumps(tasks))
    with events:
        assert pickle.load(events)[0] == "event"  # a run has started on the child's loop
        child.send_signal(signal.SIGINT)
        outcomes = []
        while True:
            try:
                message = pickle.load(events)
            except EOFError:
                break
            if message[0] != "event":
                outcomes.append(message)
    assert child.wait(30) == 0
    with errors:
        errors.seek(0)
        assert errors.read() == b""
    assert sorted(outcomes) == [("cancelled", 0), ("cancelled", 1)]
    assert [run.status()["status"] for run in store] == ["interrupted"] * 2


def test_a_comparison_meets_the_same_latencies_in_every_lane(tmp_path: Path) -> None:
    job = start_comparison(REQUEST, comparison_plan(), FAST, store=RunStore(tmp_path))
    assert job.wait(60)
    assert [lane.label for lane in job.lanes] == [
        "sequential",
        "batched(3)",
        "batched(5)",
        "batched(10)",
    ]
    assert job.status == "finished" and job.baseline == "measured"
    scripts = job.scripts()
    drawn = [{t.index: t.service_s for t in s.meta.timeline} for s in scripts]
    assert all(d == drawn[0] for d in drawn)  # common random numbers: only scheduling differs
    walls = [s.meta.wall_time_s for s in scripts]
    assert walls[0] > walls[1] > walls[2] > walls[3]
    for lane in job.lanes:  # events crossed the process boundary into each lane's tracker
        assert lane.snapshot().done == 10 and len(lane.scenes()) == 10
    assert sorted(i.status for i in RunStore(tmp_path).list()) == ["finished"] * 4


def test_a_comparison_whose_process_dies_fails_its_lanes_instead_of_hanging() -> None:
    slow = BackendConfig.build_config(kind="simulated", time_scale=1.0)  # ~8 s a call
    job = start_comparison(REQUEST, comparison_plan([5]), slow)
    assert job.child_pid is not None
    os.kill(job.child_pid, signal.SIGKILL)
    assert job.wait(30)
    assert job.status == "failed"
    for lane in job.lanes:
        assert lane.status == "failed" and "stopped" in (lane.error or "")


def test_a_paid_comparison_estimates_sequential_instead_of_paying_for_it() -> None:
    config = BackendConfig.build_config(
        kind="openai", base_url="http://127.0.0.1:9/v1", model="m", api_keys=["sk-x"]
    )
    job = start_comparison(REQUEST, comparison_plan([3, 5]), config)
    assert [lane.label for lane in job.lanes] == ["batched(3)", "batched(5)"]
    assert job.baseline == "estimated"
    assert job.child_pid is not None
    os.kill(job.child_pid, signal.SIGKILL)  # nothing listens there; no need to wait retries out
    assert job.wait(30)


def test_a_key_echoed_in_an_error_is_masked() -> None:
    key = "sk-secret-123"
    lane = Lane("batched(5)", REQUEST, secrets=[key])
    lane.fail(f"401: invalid key {key} for this project")
    assert lane.error == f"401: invalid key {mask(key)} for this project"  # storygen's one mask
    assert key not in lane.error
    assert lane.status == "failed"


def test_preflight_names_the_missing_key_and_lets_the_simulator_through() -> None:
    check_backend(FAST)
    with pytest.raises(InvalidRequestError) as exc:
        check_backend(BackendConfig.build_config(kind="openai", base_url="http://127.0.0.1:9/v1"))
    assert exc.value.field == "api_keys" and "API key" in str(exc.value)


def test_the_plan_starts_with_the_baseline_and_lists_each_size_once() -> None:
    assert comparison_plan([10, 3, 5, 3], [5], [25]) == [
        ("sequential", 1),
        ("batched", 3),
        ("batched", 5),
        ("batched", 10),
        ("windowed", 5),
        ("outline", 25),
    ]
    assert comparison_plan([5], sequential=False) == [("batched", 5)]
    with pytest.raises(InvalidRequestError):
        start_comparison(REQUEST, [("batched", 500)], FAST)  # validated like any request


def test_a_key_is_never_written_to_the_run_store(tmp_path: Path) -> None:
    secret = "sk-never-on-disk-5555"
    config = BackendConfig.build_config(
        kind="openai", base_url="http://127.0.0.1:9/v1", model="m", api_keys=[secret]
    )
    job = start_generate(REQUEST, config, store=RunStore(tmp_path))
    assert job.child_pid is not None
    os.kill(job.child_pid, signal.SIGKILL)
    assert job.wait(30)
    (lane,) = job.lanes
    assert lane.run_dir is not None
    saved = lane.run_dir.backend_settings()
    assert saved["kind"] == "openai" and saved["base_url"] == "http://127.0.0.1:9/v1"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(encoding="utf-8", errors="replace")
    assert secret not in (lane.error or "")


def test_a_run_still_finishes_on_disk_when_the_app_stops_listening(tmp_path: Path) -> None:
    run_dir = RunStore(tmp_path).create(REQUEST, FAST.settings())
    task = _Task("generate", REQUEST, str(run_dir.path), FAST)
    child, events, errors = spawn_entry(Job.entry, pickle.dumps([task]))
    events.close()  # the app went away (a restarted server, a closed tab's process)
    assert child.wait(30) == 0
    errors.close()
    info = run_dir.info()
    assert (info.status, info.scenes_done) == ("finished", 10)


@pytest.mark.parametrize("job", [Job, BulkJob], ids=lambda job: job.__name__)
def test_each_child_entry_point_names_an_importable_callable(job: type[ChildJob]) -> None:
    """The child starts from a string ("module:function"): a move that breaks it would only
    show when the app runs a job, so the string itself is checked here."""
    module, _, function = job.entry.partition(":")
    assert module and function, job.entry
    assert callable(getattr(importlib.import_module(module), function))
