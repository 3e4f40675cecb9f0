"""A run never hangs: whatever fails inside it (the disk, a subscriber, a backend bug) ends
it promptly with a message naming the cause, and resume finishes it afterwards."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import (
    Generation,
    RunDir,
    RunFailedError,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
    generate,
    resume,
    run_async,
)
from storygen.backends.config import BackendConfig
from storygen.core.errors import StoreError
from storygen.core.models import Scene, SceneDraft, SceneTiming
from storygen.engine.events import Event, RunFailed, SceneFinished
from storygen.jobs.worker import start_resume

ROOT = Path(__file__).resolve().parents[2]
STRATEGIES = ["sequential", "batched", "windowed", "outline"]


class DiskFillsUp(RunDir):
    """The store's own append, until the disk is full: the nth line and every later one
    fail as the OS would say it."""

    def __init__(self, path: Path, fail_from: int) -> None:
        super().__init__(path)
        self.fail_from, self.appends = fail_from, 0

    def append(self, scene: Scene, timing: SceneTiming) -> None:
        self.appends += 1
        if self.appends >= self.fail_from:
            raise StoreError(
                "the checkpoint",
                self.path / "checkpoint.jsonl",
                OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
            )
        super().append(scene, timing)


def raw_checkpoint(run_path: Path) -> list[int]:
    """Indices of every complete line, repeats kept: a duplicate shows up here."""
    indices = []
    for line in (run_path / "checkpoint.jsonl").read_text().splitlines():
        try:
            indices.append(json.loads(line)["scene"]["index"])
        except ValueError:
            continue  # a line cut short by the fault
    return indices


@pytest.fixture
def unretrieved_task_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """asyncio logs "Task exception was never retrieved" when a dead task is collected."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    found: list[str] = []
    yield found
    gc.collect()
    found += [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]
    assert not found


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_full_disk_ends_the_run_with_the_cause_and_resume_finishes_it(
    tmp_path: Path, strategy: str, unretrieved_task_errors: list[str]
) -> None:
    request = ScriptRequest(idea="A heist", duration_s=160, strategy=strategy, concurrency=4)
    store = RunStore(tmp_path)
    created = store.create(request, SimulatedBackend().settings())
    full = DiskFillsUp(created.path, fail_from=4)
    events: list[Event] = []
    with pytest.raises(RunFailedError) as info:
        await asyncio.wait_for(
            run_async(
                request,
                SimulatedBackend(time_scale=FAST),
                policy=fast_policy(),
                subscribers=[events.append],
                run_dir=full,
            ),
            timeout=30,
        )
    message = str(info.value)
    assert f"could not write the checkpoint in {full.path / 'checkpoint.jsonl'}" in message
    assert message.endswith("No space left on device")
    assert info.value.run_dir == str(full.path)
    assert [e.error for e in events if isinstance(e, RunFailed)] == [message]
    status = json.loads((full.path / "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == message
    saved = raw_checkpoint(full.path)
    assert len(saved) == 3 == status["scenes_done"]
    # a scene is reported finished only once it is on disk
    assert [e.scene.index for e in events if isinstance(e, SceneFinished)] == saved

    backend = SimulatedBackend(time_scale=FAST)
    script = await asyncio.wait_for(
        asyncio.to_thread(resume, full.path, backend, policy=fast_policy()), timeout=30
    )
    assert [s.index for s in script.scenes] == list(range(1, 21))
    assert sorted(raw_checkpoint(full.path)) == list(range(1, 21))  # no duplicate, no gap
    assert backend.calls == 20 - 3  # only the missing scenes (an outline is reused)


async def test_a_checkpoint_that_cannot_be_opened_fails_the_run_at_once(
    tmp_path: Path, unretrieved_task_errors: list[str]
) -> None:
    """A real OS refusal (the path is a folder), not a patched method."""
    request = ScriptRequest(idea="A heist", duration_s=80, strategy="windowed", concurrency=3)
    run = RunStore(tmp_path).create(request, {})
    (run.path / "checkpoint.jsonl").mkdir()
    backend = SimulatedBackend(time_scale=FAST)
    with pytest.raises(RunFailedError, match=r"could not write the checkpoint in .*Is a directory"):
        await asyncio.wait_for(
            run_async(request, backend, policy=fast_policy(), run_dir=run), timeout=30
        )
    assert backend.calls <= 3  # the first failure stopped admission: only the window ran
    assert json.loads((run.path / "status.json").read_text())["status"] == "failed"

    (run.path / "checkpoint.jsonl").rmdir()  # the disk is fixed
    script = await asyncio.to_thread(resume, run.path, backend, policy=fast_policy())
    assert [s.index for s in script.scenes] == list(range(1, 11))


def test_a_subscriber_that_raises_is_logged_once_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise KeyError("a UI callback bug")

    seen: list[Event] = []
    caplog.set_level(logging.ERROR, logger="storygen")
    request = ScriptRequest(idea="A heist", duration_s=80, strategy="windowed", concurrency=3)
    script = generate(
        request,
        SimulatedBackend(time_scale=FAST),
        store=RunStore(tmp_path),
        policy=fast_policy(),
        subscribers=[broken, seen.append],
    )
    assert len(script.scenes) == 10
    assert sum(isinstance(e, SceneFinished) for e in seen) == 10  # later subscribers still fed
    logged = [r for r in caplog.records if "subscriber" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None


class BuggyBackend(SimulatedBackend):
    """A backend with a bug that fires on scene 5: not an error storygen knows."""

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        if task.index == 5:
            return None  # type: ignore[return-value]  # the bug: forgot to return the answer
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


def test_a_bug_is_logged_with_its_traceback_and_a_known_error_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="storygen")
    request = ScriptRequest(idea="A heist", duration_s=80, strategy="windowed", concurrency=2)
    with pytest.raises(RunFailedError):
        generate(request, BuggyBackend(time_scale=FAST), policy=fast_policy())
    (bug,) = [r for r in caplog.records if r.name == "storygen"]
    assert bug.getMessage() == "unexpected error in scene 5"
    assert bug.exc_info is not None and bug.exc_info[0] is AttributeError
    caplog.clear()
    with pytest.raises(RunFailedError):
        generate(request, SimulatedBackend(time_scale=FAST, fail_scenes={3}), policy=fast_policy())
    assert not [r for r in caplog.records if r.name == "storygen"]  # a permanent error is no bug


@pytest.mark.parametrize("strategy", ["windowed", "outline"])
async def test_a_bug_in_a_backend_fails_the_run_instead_of_hanging(
    tmp_path: Path, strategy: str, unretrieved_task_errors: list[str]
) -> None:
    request = ScriptRequest(idea="A heist", duration_s=160, strategy=strategy, concurrency=4)
    run = RunStore(tmp_path).create(request, {})
    with pytest.raises(RunFailedError, match="scene 5 failed: AttributeError") as info:
        await asyncio.wait_for(
            run_async(request, BuggyBackend(time_scale=FAST), policy=fast_policy(), run_dir=run),
            timeout=30,
        )
    assert info.value.scene_index == 5
    assert json.loads((run.path / "status.json").read_text())["status"] == "failed"


def _limit_file_size(limit: int) -> None:
    """In the child only: files may not grow past ``limit`` bytes, and the kernel's
    SIGXFSZ is ignored so that the write fails with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_cli_under_a_real_file_size_limit_exits_1_and_resume_finishes(tmp_path: Path) -> None:
    """The OS really refuses the write (EFBIG), as it would on a full or quota'd disk."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    args = [sys.executable, "-m", "storygen", "generate", "--idea", "A heist", "--no-progress"]
    args += ["--duration", "240", "--strategy", "windowed", "--batch-size", "3"]
    args += ["--time-scale", "0.002", "--runs-dir", str(tmp_path)]
    failed = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: _limit_file_size(4000),
    )
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    assert "never retrieved" not in failed.stderr
    [run_path] = [p for p in tmp_path.iterdir() if p.is_dir()]
    checkpoint = run_path / "checkpoint.jsonl"
    assert f"could not write the checkpoint in {checkpoint}: File too large" in failed.stderr
    assert f"python -m storygen resume {run_path}" in failed.stderr
    status = json.loads((run_path / "status.json").read_text())
    assert status["status"] == "failed" and "File too large" in status["error"]
    saved = raw_checkpoint(run_path)
    assert 0 < len(saved) < 30 and checkpoint.stat().st_size <= 4000

    done = subprocess.run(
        [sys.executable, "-m", "storygen", "resume", str(run_path), "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(raw_checkpoint(run_path)) == list(range(1, 31))  # no duplicate, no gap
    script = json.loads((run_path / "script.json").read_text())
    assert [s["index"] for s in script["scenes"]] == list(range(1, 31))
    assert json.loads((run_path / "status.json").read_text())["status"] == "finished"


def test_the_app_lane_shows_the_store_error(tmp_path: Path) -> None:
    request = ScriptRequest(idea="A heist", duration_s=80, strategy="windowed", concurrency=3)
    config = BackendConfig(time_scale=FAST)
    run = RunStore(tmp_path).create(request, config.settings())
    # an unmounted disk: the checkpoint points into a folder that is not there
    (run.path / "checkpoint.jsonl").symlink_to(tmp_path / "unmounted" / "checkpoint.jsonl")
    job = start_resume(run, config)
    assert job.wait(timeout=60)
    [lane] = job.lanes
    assert lane.status == "failed"
    assert lane.error is not None
    assert f"could not write the checkpoint in {run.path / 'checkpoint.jsonl'}" in lane.error
    assert lane.error.endswith("No such file or directory")
