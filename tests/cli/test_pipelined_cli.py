"""`generate --strategy pipelined` and what its summary says: time to summary, runaway
answers cut, and why answers could not stream; the Batch API refuses pipelined rows."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from pathlib import Path

import pytest
from conftest import cli

from storygen import Script
from storygen.cli.main import main
from storygen.cli.runs import summary

IDEA = "A fox opens a bakery"


def generate(tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    runs = tmp_path / "runs"
    done = cli(
        "generate",
        "--idea",
        IDEA,
        "--duration",
        "80",
        "--time-scale",
        "0.002",
        "--runs-dir",
        str(runs),
        "--no-progress",
        *flags,
    )
    run = next(runs.iterdir()) if runs.is_dir() else runs
    return done, run


@pytest.fixture(scope="module")
def pipelined(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Script]:
    """One pipelined run of 10 scenes, 4 in flight, on the simulated backend."""
    done, run = generate(
        tmp_path_factory.mktemp("pipelined"), "--strategy", "pipelined", "--batch-size", "4"
    )
    assert done.returncode == 0, done.stderr
    script = Script.model_validate(json.loads((run / "script.json").read_text()))
    return done.stdout, script


def test_a_pipelined_run_writes_every_scene_and_says_its_strategy(pipelined) -> None:
    out, script = pipelined
    assert "10 scenes in" in out and "(pipelined, concurrency 4)" in out
    assert script.meta.strategy == "pipelined" and script.meta.concurrency == 4
    assert [s.index for s in script.scenes] == list(range(1, 11))


def test_its_summary_says_the_mean_time_to_summary_of_the_streamed_scenes(pipelined) -> None:
    out, script = pipelined
    timeline = script.meta.timeline
    streamed = [t for t in timeline if t.summary_s is not None]
    assert len(streamed) == 10  # a pipelined run streams every scene
    mean = statistics.fmean(t.summary_s - t.call_start_s for t in streamed)  # type: ignore[operator]
    (line,) = [line for line in out.splitlines() if line.startswith("time to summary")]
    shown = float(re.search(r"time to summary: ([0-9.]+) s on average", line)[1])  # type: ignore[index]
    assert shown == pytest.approx(mean, abs=0.006)
    assert "(10 scenes streamed)" in line
    assert "runaway" not in out and "did not stream" not in out  # nothing of that happened


def test_a_run_that_did_not_stream_says_nothing_about_time_to_summary(tmp_path: Path) -> None:
    done, _ = generate(tmp_path, "--strategy", "windowed", "--batch-size", "3")
    assert done.returncode == 0, done.stderr
    assert "time to summary" not in done.stdout and "runaway" not in done.stdout


def test_runaways_and_a_stream_note_are_printed(pipelined, capsys) -> None:
    _, script = pipelined
    timeline = [
        t.model_copy(update={"runaways": 2 if t.index == 3 else 0}) for t in script.meta.timeline
    ]
    note = "the server refused stream=True (HTTP 400); each scene waited for a whole answer"
    meta = script.meta.model_copy(update={"timeline": timeline, "stream_note": note})
    summary(script.model_copy(update={"meta": meta}))
    out = capsys.readouterr().out
    assert "2 runaway answers cut and retried" in out
    assert f"answers did not stream: {note}" in out


def test_the_lag_allowance_reaches_a_pipelined_run(tmp_path: Path) -> None:
    done, run = generate(
        tmp_path, "--strategy", "pipelined", "--batch-size", "3", "--lag-allowance", "2"
    )
    assert done.returncode == 0, done.stderr
    meta = json.loads((run / "script.json").read_text())["meta"]
    assert meta["strategy"] == "pipelined" and meta["lag_allowance"] == 2


@pytest.mark.parametrize("strategy", ["sequential", "batched", "outline"])
def test_a_lag_allowance_for_another_strategy_is_refused(tmp_path: Path, strategy: str) -> None:
    done, run = generate(tmp_path, "--strategy", strategy, "--lag-allowance", "2")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --lag-allowance applies to the windowed and pipelined strategies only "
        f"(not {strategy})"
    )
    assert not run.exists()  # refused before a run directory was made


def test_the_batch_api_refuses_pipelined_rows_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text("idea\nA fox opens a bakery\nA moth learns to sing\n", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "o"
    code = main(
        [
            *("bulk", str(ideas), "--out-dir", str(out), "--runs-dir", str(tmp_path / "runs")),
            *("--via", "batch-api", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"),
            *("--strategy", "pipelined"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    reason = (
        "a batch job cannot stream, so pipelined cannot start a scene on its predecessor's "
        "summary; use outline or batched"
    )
    assert err.count(reason) == 2  # each row, with the reason
    assert "nothing was started" in err and not out.exists()


def test_bench_takes_pipelined_lanes(tmp_path: Path) -> None:
    done = cli(
        *("bench", "--duration", "48", "--batch-sizes", "3", "--time-scale", "0.002"),
        *("--strategies", "windowed,pipelined", "--json", str(tmp_path / "b.json")),
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [(r["strategy"], r["concurrency"]) for r in rows] == [
        ("sequential", 1),
        ("windowed", 3),
        ("pipelined", 3),
    ]
    (piped,) = [r for r in rows if r["strategy"] == "pipelined"]
    assert piped["mean_context_lag"] == 0 and piped["speedup"] > 1
