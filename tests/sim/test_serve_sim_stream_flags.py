"""serve-sim's streaming, compute and rate-header flags: refused in one line when out of
range, and handed to the server that runs."""

from __future__ import annotations

import json
import urllib.request

import pytest
from conftest import serve_sim_command

from storygen.cli.main import main


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


def test_serve_sim_command_serves_with_the_stream_and_compute_flags() -> None:
    flags = ["--no-streaming", "--runaway-rate", "0.05", "--compute-bound", "--compute-gain",
             "2", "--capacity", "4"]  # fmt: skip
    with serve_sim_command(*flags) as url, urllib.request.urlopen(f"{url}/sim/stats") as r:
        seen = json.loads(r.read())
    assert (seen["streaming"], seen["runaway_rate"]) == (False, 0.05)
    assert (seen["compute_bound"], seen["compute_gain"], seen["capacity"]) == (True, 2.0, 4)
