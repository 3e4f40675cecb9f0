"""One writer per run: a second writer is refused while the first runs; a lock left by a
killed process does not block resume."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import FAST

from storygen import (
    RunDir,
    RunFailedError,
    RunStore,
    ScriptRequest,
    SimulatedBackend,
    generate,
    resume,
)
from storygen.core.errors import RunLockedError
from storygen.engine.events import Event, SceneFinished

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ScriptRequest(idea="A heist", duration_s=160, strategy="windowed", concurrency=3)


def failed_run(tmp_path: Path) -> Path:
    with pytest.raises(RunFailedError) as info:
        generate(
            REQUEST,
            SimulatedBackend(time_scale=FAST, fail_scenes={8}),
            store=RunStore(tmp_path),
        )
    return Path(info.value.run_dir or "")


def checkpoint_indices(run: Path) -> list[int]:
    lines = (run / "checkpoint.jsonl").read_text().splitlines()
    return [json.loads(line)["scene"]["index"] for line in lines if line.strip()]


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    refused: list[str] = []

    def second_writer(event: Event) -> None:
        if isinstance(event, SceneFinished) and not refused:
            try:  # the app resuming the run the CLI is resuming
                resume(RunDir(run), SimulatedBackend(time_scale=FAST))
            except RunLockedError as exc:
                refused.append(str(exc))

    first = SimulatedBackend(time_scale=FAST)
    script = resume(run, first, subscribers=[second_writer])
    assert len(refused) == 1
    assert f"run {run} is being written by process" in refused[0]
    assert [s.index for s in script.scenes] == list(range(1, 21))
    indices = checkpoint_indices(run)
    assert sorted(indices) == list(range(1, 21))  # nobody paid twice for a scene


def test_another_process_holding_the_run_is_named_and_a_killed_one_does_not_block(
    tmp_path: Path,
) -> None:
    run = failed_run(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os, signal, sys
                from storygen import RunDir
                with RunDir({str(run)!r}).writer():
                    print("holding", flush=True)
                    sys.stdin.readline()  # until the test says so
                    os.kill(os.getpid(), signal.SIGKILL)  # dies holding the lock
                """
            ),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "holding\n"
    with pytest.raises(RunLockedError, match=f"process {holder.pid} on "):
        resume(run, SimulatedBackend(time_scale=FAST))
    assert json.loads((run / "status.json").read_text())["status"] == "failed"  # untouched

    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(timeout=30) == -9  # killed, its lock file left behind
    assert (run / ".lock").read_text().startswith(f"process {holder.pid} ")
    script = resume(run, SimulatedBackend(time_scale=FAST))
    assert [s.index for s in script.scenes] == list(range(1, 21))


def test_the_cli_refuses_a_run_that_is_being_written(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    with RunDir(run).writer():
        done = subprocess.run(
            [sys.executable, "-m", "storygen", "resume", str(run), "--no-progress"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: run {run} is being written by process")
    assert "Traceback" not in done.stderr


def test_resume_of_a_finished_run_has_nothing_to_do(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    script = generate(REQUEST, SimulatedBackend(time_scale=FAST), store=store)
    (run,) = store
    backend = SimulatedBackend(time_scale=FAST)
    again = resume(run.path, backend)
    assert backend.calls == 0 and again == script
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "resume", str(run.path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == f"nothing to do: {run.path} is finished (20 scenes)\n"
