"""Nothing is lost: checkpoints, failure, resume, and a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import RunFailedError, RunStore, ScriptRequest, SimulatedBackend, generate, resume

ROOT = Path(__file__).resolve().parents[2]


def checkpoint_indices(run_path: Path) -> list[int]:
    lines = (run_path / "checkpoint.jsonl").read_text().splitlines()
    return [json.loads(line)["scene"]["index"] for line in lines if line.strip()]


def test_failed_run_keeps_finished_scenes_and_resume_fills_only_the_gap(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    request = ScriptRequest(idea="A heist", duration_s=600, strategy="batched", concurrency=5)
    with pytest.raises(RunFailedError) as info:
        generate(
            request,
            SimulatedBackend(time_scale=FAST, fail_scenes={33}),
            store=store,
            policy=fast_policy(),
        )
    run_path = Path(info.value.run_dir or "")
    saved = checkpoint_indices(run_path)
    # batches 1-6 done, and batch 7's other in-flight calls finished and were kept
    assert set(range(1, 31)) <= set(saved)
    assert {31, 32, 34, 35} <= set(saved) and 33 not in saved
    assert max(saved) == 35
    status = json.loads((run_path / "status.json").read_text())
    assert status["status"] == "failed" and "scene 33" in status["error"]
    before = {s.index: s for s, _ in store.open(run_path).load_checkpoint().values()}

    resumed_backend = SimulatedBackend(time_scale=FAST)
    script = resume(run_path, resumed_backend, policy=fast_policy())
    assert [s.index for s in script.scenes] == list(range(1, 76))
    assert resumed_backend.calls == 75 - len(saved)
    for k, scene in before.items():
        assert script.scenes[k - 1] == scene
    assert sorted(checkpoint_indices(run_path)) == list(range(1, 76))
    assert json.loads((run_path / "status.json").read_text())["status"] == "finished"
    assert json.loads((run_path / "script.json").read_text())["scenes"][74]["index"] == 75


def test_resume_of_outline_run_reuses_the_saved_outline(tmp_path: Path) -> None:
    request = ScriptRequest(idea="A heist", duration_s=200, strategy="outline", concurrency=5)
    with pytest.raises(RunFailedError) as info:
        generate(
            request,
            SimulatedBackend(time_scale=FAST, fail_scenes={3}),
            store=RunStore(tmp_path),
            policy=fast_policy(),
        )
    run_path = Path(info.value.run_dir or "")
    outline = json.loads((run_path / "outline.json").read_text())
    script = resume(run_path, SimulatedBackend(time_scale=FAST), policy=fast_policy())
    assert script.outline is not None and script.outline.model_dump() == outline
    assert script.meta.outline_start_s is None  # no second outline call


def test_checkpoint_survives_a_torn_last_line_and_duplicates(tmp_path: Path) -> None:
    request = ScriptRequest(idea="A heist", duration_s=40)
    store = RunStore(tmp_path)
    generate(request, SimulatedBackend(time_scale=0), store=store)
    (run,) = list(store)
    path = run.path / "checkpoint.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[0], lines[1][: len(lines[1]) // 2]]))
    assert sorted(run.load_checkpoint()) == [1, 2, 3, 4, 5]


def test_run_store_lists_runs_and_never_writes_secrets(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    request = ScriptRequest(idea="A heist", duration_s=40)

    class KeyedBackend(SimulatedBackend):
        def settings(self) -> dict[str, object]:
            return {**super().settings(), "api_key": "sk-secret-123", "api_keys": ["sk-x"]}

    generate(request, KeyedBackend(time_scale=0), store=store)
    (info,) = store.list()
    assert info.status == "finished" and info.scenes_done == 5 and info.scenes_total == 5
    for file in info.path.iterdir():
        assert "sk-" not in file.read_text()


def _cli(*args: str, runs: Path) -> list[str]:
    return [sys.executable, "-m", "storygen", *args, "--runs-dir", str(runs)]


def test_a_killed_process_resumes_without_gap_or_duplicate(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        _cli(
            "generate",
            "--idea",
            "A storm over the harbour",
            "--duration",
            "600",
            "--strategy",
            "windowed",
            "--batch-size",
            "3",
            "--time-scale",
            "0.01",
            "--no-progress",
            runs=runs,
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    checkpoint: Path | None = None
    while time.monotonic() < deadline:  # wait for a condition, not for a time
        found = list(runs.glob("*/checkpoint.jsonl"))
        if found and len(checkpoint_indices(found[0].parent)) >= 10:
            checkpoint = found[0]
            break
        time.sleep(0.02)
    assert checkpoint is not None, proc.communicate(timeout=5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    run_path = checkpoint.parent
    written = checkpoint_indices(run_path)
    assert 10 <= len(written) < 75

    done = subprocess.run(
        [sys.executable, "-m", "storygen", "resume", str(run_path), "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    script = json.loads((run_path / "script.json").read_text())
    assert [s["index"] for s in script["scenes"]] == list(range(1, 76))
    assert sorted(checkpoint_indices(run_path)) == list(range(1, 76))


def test_ctrl_c_marks_the_run_interrupted_and_resume_finishes_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        _cli(
            "generate", "--idea", "A storm", "--duration", "400", "--strategy", "batched",
            "--batch-size", "2", "--time-scale", "0.01", "--no-progress", runs=runs,
        ),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(runs.glob("*/checkpoint.jsonl"))
        if found and len(checkpoint_indices(found[0].parent)) >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    (run_path,) = runs.iterdir()
    assert json.loads((run_path / "status.json").read_text())["status"] == "interrupted"
    script = resume(run_path, SimulatedBackend(time_scale=0))
    assert [s.index for s in script.scenes] == list(range(1, 51))
