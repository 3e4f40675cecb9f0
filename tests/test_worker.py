"""Background jobs: they run, report live progress, fail clearly, resume, and compare fairly."""

from __future__ import annotations

import os
import pickle
import signal
import time
from pathlib import Path

import pytest

from storygen import InvalidRequestError, RunStore, ScriptRequest
from storygen.config import BackendConfig, check_backend
from storygen.worker import (
    Lane,
    _spawn_child,
    _Task,
    comparison_plan,
    start_comparison,
    start_generate,
    start_resume,
)

FAST = BackendConfig.build_config(kind="simulated", time_scale=0.002)
REQUEST = ScriptRequest(idea="A heist in a lighthouse", duration_s=80)  # 10 scenes


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
    lane = Lane("batched(5)", REQUEST, secrets=["sk-secret-123"])
    lane.fail("401: invalid key sk-secret-123 for this project")
    assert lane.error == "401: invalid key *** for this project"
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
    child, events, errors = _spawn_child(pickle.dumps([task]))
    events.close()  # the app went away (a restarted server, a closed tab's process)
    assert child.wait(30) == 0
    errors.close()
    info = run_dir.info()
    assert (info.status, info.scenes_done) == ("finished", 10)
