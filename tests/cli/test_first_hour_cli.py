"""Issue 21's first hour on the command line: --help says what each flag does and its
default, a bad value is named by the flag typed, every argument is checked before the first
call, and a corrupt run folder is one line, not a traceback."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from conftest import cli

from storygen.cli.main import _parser, main
from storygen.core import export

FAST = "0.002"
INTERNAL = ("duration_s", "concurrency", "time_scale", "error_rate", "Value error")


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each argument's help as --help prints it, by its first name."""
    formatter = parser._get_formatter()
    return {
        (a.option_strings or [a.dest])[0]: formatter._expand_help(a) if a.help else ""
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction)
    }


def test_the_root_help_hides_internal_commands_and_names_serve_sim() -> None:
    text = cli("--help").stdout
    assert "==SUPPRESS==" not in text and "bulk-resume" not in text and "bulk-status" not in text
    description = text.split("positional arguments")[0]
    assert "serve-sim" in description
    assert cli("bulk", "status", "--help").returncode == 0  # hidden, still there


@pytest.mark.parametrize("name", ["generate", "resume", "bench", "bulk", "serve-sim"])
def test_every_argument_is_described(name: str) -> None:
    undescribed = [flag for flag, text in helps(commands()[name]).items() if not text.strip()]
    assert undescribed == []


@pytest.mark.parametrize("name", ["generate", "resume", "bench", "bulk", "serve-sim"])
def test_every_option_with_a_value_shows_its_default(name: str) -> None:
    parser = commands()[name]
    switches = (argparse._StoreTrueAction, argparse._StoreFalseAction)
    valued = {
        (a.option_strings or [a.dest])[0]
        for a in parser._actions
        if a.option_strings and not a.required and not isinstance(a, switches)
    } - {"-h"}
    missing = [flag for flag, text in helps(parser).items() if flag in valued]
    missing = [flag for flag in missing if "default" not in helps(parser)[flag]]
    assert missing == []


def test_a_default_of_zero_is_shown() -> None:
    generate = helps(commands()["generate"])
    assert "(default: 0)" in generate["--seed"] and "(default: 0.0)" in generate["--error-rate"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--duration", "5"], "--duration: Input should be greater than or equal to 8"),
        (["--batch-size", "0"], "--batch-size: Input should be greater than or equal to 1"),
        (["--window", "0"], "--window: Input should be greater than or equal to 1"),
        (["--batch-size", "adaptive", "--max-concurrency", "0"], "--max-concurrency: "),
        (["--time-scale", "-1"], "--time-scale: Input should be greater than or equal to 0"),
        (["--error-rate", "2"], "--error-rate: Input should be less than or equal to 0.9"),
        (["--attempts", "0"], "--attempts: retry attempts must be between 1 and 20 (got 0)"),
        (["--context-scenes", "-1"], "--context-scenes: "),
        (["--idea", "   "], "--idea: the idea must contain text, not only spaces"),
    ],
)  # fmt: skip
def test_a_bad_value_is_named_by_the_flag_typed(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["generate", "--idea", "A fox", "--duration", "80", "--runs-dir", str(tmp_path)]
    assert main([*base, *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {said}") and err.count("\n") == 1
    rest = err.removeprefix(f"error: {said}")
    assert not any(name in rest for name in INTERNAL)
    assert not list(tmp_path.iterdir())  # refused before a run was started


def test_an_out_file_of_no_known_format_is_refused_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    args = ["generate", "--idea", "A fox", "--duration", "80", "--time-scale", FAST]
    assert main([*args, "--runs-dir", str(runs), "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out: unknown export format 'txt' for x.txt")
    assert all(fmt in err for fmt in export.FORMATS)  # every format the export knows
    assert not runs.exists()  # no run, so nothing paid for
    assert main([*args, "--runs-dir", str(runs), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err and not runs.exists()


def test_the_default_out_of_a_format_uses_its_own_suffix(tmp_path: Path) -> None:
    args = ["generate", "--idea", "A fox", "--duration", "16", "--time-scale", FAST]
    assert main([*args, "--runs-dir", str(tmp_path), "--format", "srt", "--no-progress"]) == 0
    (run,) = tmp_path.iterdir()
    assert (run / "script.srt").read_text(encoding="utf-8").startswith("1\n")


def _failed_run(runs: Path) -> Path:
    code = main(["generate", "--idea", "A heist", "--duration", "48", "--time-scale", FAST,
                 "--fail-scenes", "4", "--runs-dir", str(runs), "--no-progress"])  # fmt: skip
    assert code == 1
    (run,) = runs.iterdir()
    return run


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("request.json", "{}", "idea: Field required"),
        ("request.json", "{not json", "not JSON: Expecting property name"),
        ("request.json", "[]", "valid dictionary"),
        ("backend.json", "{}", 'it names no backend ("kind"'),
        ("backend.json", "[1", "not JSON"),
        ("backend.json", '{"kind": "gpt"}', "kind: Input should be 'simulated' or 'openai'"),
        ("backend.json", None, "No such file or directory"),
    ],
)
def test_resuming_a_corrupt_run_folder_is_one_line_and_exit_2(
    name: str, text: str | None, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _failed_run(tmp_path / "runs")
    checkpoint = (run / "checkpoint.jsonl").read_text()
    capsys.readouterr()
    if text is None:
        (run / name).unlink()
    else:
        (run / name).write_text(text, encoding="utf-8")
    assert main(["resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / name} cannot be read (" in err and said in err
    assert (run / "checkpoint.jsonl").read_text() == checkpoint  # nothing written


def test_resume_checks_out_before_it_writes_a_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _failed_run(tmp_path / "runs")
    checkpoint = (run / "checkpoint.jsonl").read_text()
    assert main(["resume", str(run), "--out", str(tmp_path / "x.docx")]) == 2
    assert "error: --out: unknown export format 'docx'" in capsys.readouterr().err
    assert (run / "checkpoint.jsonl").read_text() == checkpoint
    assert json.loads((run / "status.json").read_text())["status"] == "failed"


def test_a_language_the_simulated_backend_has_no_words_for_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", "--idea", "A fox", "--duration", "16", "--time-scale", FAST,
            "--runs-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main([*args, "--language", "xx"]) == 0
    err = capsys.readouterr().err
    assert "note: the simulated backend writes en, es, fr, de only: --language xx is " in err
    assert "written in English" in err
    assert main([*args, "--language", "es-MX"]) == 0
    assert "note:" not in capsys.readouterr().err
