"""bulk --max-cost over real HTTP against serve-sim, through the real openai SDK: the
estimate of every valid row before any call, a bulk run estimated over the cap refused
with zero requests, and one cap shared by every row: once spent, the rows left start no
calls and stay interrupted, and `bulk resume DIR --max-cost HIGHER` finishes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PAID_KEY, PRICED_MODEL, Serve, bulk_folder, fast_policy

from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.bulk.live import run_bulk
from storygen.cli.main import main
from storygen.core.models import HedgeSettings, ScriptRequest
from storygen.core.spend import SpendCap, estimate

KEY, MODEL = PAID_KEY, PRICED_MODEL
IDEAS = "idea,duration_s,strategy\nA robot paints,48,sequential\nA cat sails,24,sequential\n"


pytestmark = pytest.mark.usefixtures("paid_key")


def _bulk_cli(url: str, tmp_path: Path, *flags: str) -> int:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(IDEAS + "a bad row,-5,sequential\n", encoding="utf-8")
    return main(
        ["bulk", str(ideas), "--out-dir", str(tmp_path / "out"), "--runs-dir",
         str(tmp_path / "runs"), "--backend", "openai", "--base-url", url, "--model", MODEL,
         "--no-progress", *flags]
    )  # fmt: skip


def test_a_bulk_run_estimated_over_the_cap_is_refused_before_any_request(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    rows = [ScriptRequest(idea=i, duration_s=d, strategy="sequential", hedge=HedgeSettings())
            for i, d in (("A robot paints", 48), ("A cat sails", 24))]  # fmt: skip
    parts = [estimate(r, MODEL) for r in rows]
    usd = sum(e.usd or 0.0 for e in parts)
    calls = sum(e.calls for e in parts)
    assert _bulk_cli(server.url, tmp_path, "--max-cost", "0.001") == 2
    out, err = capsys.readouterr()
    assert f"estimated cost on {MODEL}: ${usd:.4f} for {calls} calls at most, across 2 scripts" in (
        out
    )
    errors = err.strip().splitlines()
    assert errors[0].startswith("error: row 4:")  # the bad row, said before
    assert errors[1:] == [
        f"error: estimated ${usd:.4f} for {calls} calls is over --max-cost $0.0010"
    ]
    assert server.state.requests == []  # not one request reached the server
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_a_bulk_run_under_the_cap_shows_the_estimate_and_runs(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    assert (
        _bulk_cli(server.url, tmp_path, "--max-cost", "0.50", "--no-hedge") == 2
    )  # 2: a row was rejected
    out = capsys.readouterr().out
    assert "across 2 scripts" in out and "2 scripts finished" in out
    assert len(server.state.requests) == 9  # one call a scene: 6 + 3


def test_one_cap_across_rows_stops_them_and_bulk_resume_with_a_higher_cap_finishes(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model=MODEL, api_keys=[KEY]
    )
    settings = OpenAIBackend(config).settings()
    bulk = bulk_folder(tmp_path, IDEAS, settings, max_in_flight=1, scripts_at_once=1)
    cap = SpendCap(0.0004, MODEL)  # a scene costs about $0.0002 here: two or three scenes
    result = run_bulk(
        bulk, OpenAIBackend(config), max_in_flight=1, scripts_at_once=1, policy=fast_policy(),
        spend=cap,
    )  # fmt: skip
    assert cap.reached
    kept = [len(bulk.run(e).load_checkpoint()) for e in bulk.entries]
    # one script at a time, in either order: the cap stops whichever runs when it is spent,
    # and a script not started by then makes no call; nothing beyond the cap is written
    assert 1 <= sum(kept) < 9
    stopped = [line for line in result.lines if line.status == "interrupted"]
    assert stopped and all("spend cap reached" in (line.error or "") for line in stopped)
    assert {line.status for line in result.lines} <= {"interrupted", "finished"}
    assert len(server.state.requests) == sum(kept)  # every call made was a scene kept

    # too little for what is left: refused before any request
    assert main(["bulk", "resume", str(bulk.path), "--max-cost", "0.0001", "--no-progress"]) == 2
    out, err = capsys.readouterr()
    left = sum(line.status == "interrupted" for line in result.lines)
    plural = "scripts" if left > 1 else "script"
    assert f"across {left} {plural}" in out and "is over --max-cost $0.0001" in err
    assert len(server.state.requests) == sum(kept)

    assert main(["bulk", "resume", str(bulk.path), "--max-cost", "0.05", "--no-progress"]) == 0
    assert ", 0 not finished" in capsys.readouterr().out
    assert all(bulk.run(e).status()["status"] == "finished" for e in bulk.entries)
    assert len(server.state.requests) == 9  # each scene paid for once


def test_max_cost_is_for_live_bulk_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(IDEAS, encoding="utf-8")
    code = main(
        ["bulk", str(ideas), "--out-dir", str(tmp_path / "out"), "--backend", "openai",
         "--base-url", "http://127.0.0.1:9", "--model", MODEL, "--via", "batch-api",
         "--strategy", "batched", "--max-cost", "1", "--runs-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --max-cost applies to live bulk runs, not --via batch-api"
    )
