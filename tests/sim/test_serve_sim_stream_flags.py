"""serve-sim's streaming, compute and rate-header flags: refused in one line when out of
range, and handed to the server that runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from storygen.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--runaway-rate", "1.5"], "--runaway-rate must be between 0 and 1"),
        (["--compute-gain", "0.5"], "--compute-gain must be between 1 and 1000 (got 0.5)"),
    ],
)
def test_serve_sim_refuses_a_bad_runaway_rate_or_gain_in_one_line(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve-sim", *args]) == 2
    assert capsys.readouterr().err == f"error: {said}\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_sim_command_serves_with_the_stream_and_compute_flags() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storygen", "serve-sim", "--port", str(port), "--no-streaming",
         "--runaway-rate", "0.05", "--compute-bound", "--compute-gain", "2", "--capacity", "4"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:  # poll until it answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sim/stats", timeout=1) as r:
                    seen = json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"serve-sim did not start: {proc.communicate()[0]}")
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (seen["streaming"], seen["runaway_rate"]) == (False, 0.05)
    assert (seen["compute_bound"], seen["compute_gain"], seen["capacity"]) == (True, 2.0, 4)
