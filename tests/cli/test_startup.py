"""The simulated path starts quickly: no openai SDK, web stack or plotting library is loaded
for `--help`, `generate`, `resume` or `bench --help`; each command's body loads when it runs."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from storygen.cli.main import COMMANDS, command

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"openai", "fastapi", "uvicorn", "streamlit", "plotly"}


def imported(*args: str) -> set[str]:
    """The top-level packages `python -m storygen ARGS` imported, from -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "storygen", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}


@pytest.mark.parametrize("args", [["--help"], ["bench", "--help"], ["resume", "--help"]])
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    seen = imported(*args)
    assert "storygen" in seen  # the log was read
    assert not seen & HEAVY


def test_a_simulated_generate_and_its_resume_load_no_heavy_library(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    flags = ["--duration", "24", "--time-scale", "0.001", "--runs-dir", str(runs)]
    seen = imported("generate", "--idea", "A fox opens a bakery", *flags, "--no-progress")
    assert "tqdm" in seen and not seen & HEAVY
    (run,) = runs.iterdir()
    assert not imported("resume", str(run), "--no-progress") & HEAVY


def test_the_parser_alone_loads_no_command_body() -> None:
    code = (
        "import sys; from storygen.cli.main import _parser; _parser(); "
        "print(sorted(n for n in sys.modules if n.startswith('storygen.cli.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = eval(done.stdout)
    bodies = {module for module, _ in COMMANDS.values()}
    assert not bodies & set(loaded), loaded


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_name_leads_to_its_body(name: str) -> None:
    """The bodies are named by strings: a renamed module or function fails here, not in use."""
    module, function = COMMANDS[name]
    assert command(name) is getattr(importlib.import_module(module), function)
