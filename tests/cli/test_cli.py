"""The CLI: the happy path writes files; bad input exits 2 with one clear line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import cli


def test_generate_writes_the_script_and_the_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "script.csv"
    done = cli(
        "generate",
        "--idea",
        "A fox opens a bakery",
        "--duration",
        "180",
        "--strategy",
        "windowed",
        "--batch-size",
        "5",
        "--time-scale",
        "0.001",
        "--seed",
        "7",
        "--out",
        str(out),
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert done.returncode == 0, done.stderr
    assert "scene/s" in done.stderr or "scene" in done.stderr  # the progress bar
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [int(r["index"]) for r in rows] == list(range(1, 24))
    assert rows[-1]["duration_s"] == "4"
    (run,) = (tmp_path / "runs").iterdir()
    assert f"run directory: {run}" in done.stdout
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--idea", "", "--duration", "60"], "--idea"),
        (["generate", "--idea", "x", "--duration", "3"], "--duration"),
        (["generate", "--idea", "x", "--duration", "60", "--batch-size", "0"], "--batch-size"),
        (["generate", "--idea", "x", "--duration", "60", "--strategy", "fast"], "strategy"),
        (["generate", "--idea", "x", "--duration", "abc"], "duration"),
        (["generate", "--idea", "x", "--duration", "60", "--time-scale", "-1"], "--time-scale"),
        (["generate", "--idea", "x", "--duration", "60", "--attempts", "0"], "--attempts"),
        (["generate", "--idea", "x", "--duration", "60", "--fail-scenes", "a"], "--fail-scenes"),
        (["generate", "--duration", "60"], "--idea"),
        (["resume", "/nonexistent/run"], "no run at"),
        (["bench", "--batch-sizes", "3,x"], "--batch-sizes"),
        (["bench", "--strategies", "magic"], "--strategies"),
        (["bench", "--batch-sizes", "500"], "between 1 and 100"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    args: list[str], message: str, tmp_path: Path
) -> None:
    if args[0] == "generate":
        args = [*args, "--runs-dir", str(tmp_path)]
    done = cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_failed_run_exits_1_and_says_how_to_resume(tmp_path: Path) -> None:
    done = cli(
        "generate",
        "--idea",
        "x",
        "--duration",
        "80",
        "--time-scale",
        "0",
        "--fail-scenes",
        "4",
        "--runs-dir",
        str(tmp_path),
        "--no-progress",
    )
    assert done.returncode == 1
    assert "scene 4 failed" in done.stderr
    assert "python -m storygen resume" in done.stderr
    assert "Traceback" not in done.stderr
    run_dir = done.stderr.rsplit("resume ", 1)[1].strip()
    finished = cli("resume", run_dir, "--no-progress", "--format", "md")
    assert finished.returncode == 0, finished.stderr
    assert (Path(run_dir) / "script.md").read_text().count("## Scene ") == 10


def test_bench_prints_the_table_and_writes_files(tmp_path: Path) -> None:
    done = cli(
        "bench",
        "--duration",
        "80",
        "--batch-sizes",
        "2,5",
        "--time-scale",
        "0.001",
        "--json",
        str(tmp_path / "b.json"),
        "--csv",
        str(tmp_path / "b.csv"),
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [(r["strategy"], r["concurrency"]) for r in rows] == [
        ("sequential", 1),
        ("batched", 2),
        ("batched", 5),
        ("windowed", 2),
        ("windowed", 5),
        ("outline", 2),
        ("outline", 5),
    ]
    assert rows[0]["speedup"] == pytest.approx(1.0)
    assert "speedup" in done.stdout and "overhead_ratio" in done.stdout
    assert (tmp_path / "b.csv").read_text().startswith("strategy,concurrency")


def test_unwritable_runs_dir_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = cli(
        "generate", "--idea", "x", "--duration", "16", "--time-scale", "0",
        "--runs-dir", str(blocker / "runs"), "--no-progress",
    )  # fmt: skip
    assert done.returncode == 1
    assert "Not a directory" in done.stderr and "Traceback" not in done.stderr
