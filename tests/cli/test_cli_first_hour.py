"""The rough edges a new user hit in the first hour: each one is a behaviour now."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import cli

from storygen.cli.main import main

FAST = "0.002"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["generate", "--idea", "x", "--duration", "80", "--strategy", "parallel"],
         "invalid choice"),
        (["generate", "--idea", "x", "--duration", "abc"], "invalid float value: 'abc'"),
        (["generate", "--idea", "x", "--duration", "80", "--format", "xml"], "invalid choice"),
        (["generate", "--duration", "80"], "the following arguments are required: --idea"),
        (["bench", "--repeat", "often"], "invalid int value"),
        ([], "the following arguments are required: command"),
    ],
)  # fmt: skip
def test_argparse_errors_are_one_line_with_exit_code_2(args: list[str], said: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert said in done.stderr and "--help" in done.stderr
    assert "usage:" not in done.stderr


def test_help_shows_the_defaults() -> None:
    text = cli("generate", "--help").stdout
    assert re.search(r"--strategy .*\n.*\(default: batched\)", text)
    assert "(default: 5)" in text and "1 = real speed" in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--rpm", "60"], "--rpm applies to --backend openai only (the simulated provider's own "
                          "limit is --sim-rpm)"),
        (["--model", "gpt-4o"], "--model applies to --backend openai only"),
        (["--fail-scenes", "11"], "--fail-scenes: scene 11 is outside 1..10 (this video's scenes)"),
        (["--fail-scenes", "0"], "--fail-scenes: scene 0 is outside 1..10 (this video's scenes)"),
        (["--backend", "openai", "--error-rate", "0.2"],
         "--error-rate applies to the simulated backend only, not --backend openai"),
    ],
)  # fmt: skip
def test_a_flag_that_would_be_ignored_is_an_error(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["generate", "--idea", "x", "--duration", "80", "--runs-dir", str(tmp_path), *args])
    assert code == 2
    assert capsys.readouterr().err == f"error: {said}\n"
    assert not list(tmp_path.iterdir())  # no run was started


def test_resume_counts_only_what_it_wrote(tmp_path: Path) -> None:
    failed = cli("generate", "--idea", "A heist", "--duration", "600", "--time-scale", FAST,
                 "--fail-scenes", "40", "--runs-dir", str(tmp_path), "--no-progress")  # fmt: skip
    assert failed.returncode == 1
    (run,) = tmp_path.iterdir()
    kept = len((run / "checkpoint.jsonl").read_text().splitlines())
    done = cli("resume", str(run), "--no-progress")
    assert done.returncode == 0, done.stderr
    wrote = re.search(r"wrote (\d+) missing scenes in .* \((.*); (\d+) were already done\); "
                      r"75 in the script", done.stdout)  # fmt: skip
    assert wrote is not None, done.stdout
    assert int(wrote[1]) == 75 - kept and int(wrote[3]) == kept
    assert wrote[2] == "batched, concurrency 5"


def test_a_simulated_run_says_it_has_no_cost_and_what_it_would_cost(tmp_path: Path) -> None:
    done = cli("generate", "--idea", "A fox", "--duration", "80", "--time-scale", FAST,
               "--runs-dir", str(tmp_path), "--no-progress", "--price-as", "gpt-4o")  # fmt: skip
    assert done.returncode == 0
    line = done.stdout.splitlines()[-1]
    tokens = re.match(r"tokens: (\d+) prompt, (\d+) completion; cost n/a \(simulated\); "
                      r"on gpt-4o these tokens would cost \$(\d+\.\d{4})$", line)  # fmt: skip
    assert tokens is not None, line
    prompt, completion, cost = int(tokens[1]), int(tokens[2]), float(tokens[3])
    assert cost == round((prompt * 2.50 + completion * 10.00) / 1e6, 4)  # gpt-4o's price
    assert "$0.0000" not in done.stdout


@pytest.mark.parametrize(("strategy", "label"), [("batched", "batch="), ("windowed", "in_flight=")])
def test_the_progress_bar_shows_what_fits_the_strategy(
    strategy: str, label: str, tmp_path: Path
) -> None:
    done = cli("generate", "--idea", "A fox", "--duration", "240", "--time-scale", "0.01",
               "--strategy", strategy, "--runs-dir", str(tmp_path))  # fmt: skip
    assert done.returncode == 0
    assert label in done.stderr
    other = "in_flight=" if label == "batch=" else "batch="
    assert other not in done.stderr


def test_bench_takes_the_tail_switches(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = main(["bench", "--duration", "80", "--batch-sizes", "5", "--strategies",
                 "sequential,batched", "--time-scale", FAST, "--hedge", "--hang-rate", "0.2",
                 "--capacity", "4", "--json", str(out)])  # fmt: skip
    assert code == 0
    rows = json.loads(out.read_text())
    assert [(r["strategy"], r["concurrency"]) for r in rows] == [("sequential", 1), ("batched", 5)]
    assert main(["bench", "--capacity", "0"]) == 2
