"""The spend guard over real HTTP against serve-sim, through the real openai SDK: the
estimate before a priced run, a run estimated over --max-cost refused before any request,
and a run that spends its cap stopped, marked interrupted and finished by a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PAID_KEY, PRICED_MODEL, Serve, fast_policy

from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.cli.main import main
from storygen.core.models import HedgeSettings, ScriptRequest
from storygen.core.pricing import estimate_cost
from storygen.core.spend import SpendCap, SpendCapReached, estimate
from storygen.engine import run_async
from storygen.runner.runs import run_sync
from storygen.sim import RunningServer
from storygen.store import RunStore

KEY, MODEL = PAID_KEY, PRICED_MODEL
IDEA = "A robot learns to paint"


pytestmark = pytest.mark.usefixtures("paid_key")


def generate(server: RunningServer, runs: Path, *flags: str) -> int:
    return main(
        [
            "generate",
            "--backend",
            "openai",
            "--base-url",
            server.url,
            "--model",
            MODEL,
            "--idea",
            IDEA,
            "--duration",
            "48",
            "--runs-dir",
            str(runs),
            "--no-progress",
            *flags,
        ]
    )


def test_a_run_estimated_over_the_cap_is_refused_before_any_request(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    as_typed = ScriptRequest(idea=IDEA, duration_s=48, hedge=HedgeSettings())  # the CLI's
    planned = estimate(as_typed, MODEL)
    assert planned.usd is not None and planned.usd > 0.001
    assert generate(server, tmp_path / "runs", "--max-cost", "0.001") == 2
    out, err = capsys.readouterr()
    assert f"estimated cost on {MODEL}: ${planned.usd:.4f} for {planned.calls} calls" in out
    assert err.strip() == (
        f"error: estimated ${planned.usd:.4f} for {planned.calls} calls is over --max-cost $0.0010"
    )
    assert server.state.requests == []  # not one request reached the server
    assert not (tmp_path / "runs").exists()  # nor was a run started


def test_a_priced_run_under_the_cap_shows_its_estimate_and_spends_no_more(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    # no backups: a slow call on a loaded machine must not change the count of requests
    assert generate(server, tmp_path / "runs", "--max-cost", "0.50", "--no-hedge") == 0
    out = capsys.readouterr().out
    shown = float(out.split("estimated cost on gpt-4o-mini: $")[1].split()[0])
    [run] = RunStore(tmp_path / "runs").list()
    status = json.loads((tmp_path / "runs" / run.run_id / "status.json").read_text())
    spent = estimate_cost(MODEL, status["prompt_tokens"], status["completion_tokens"])
    assert run.status == "finished" and spent is not None and 0 < spent <= shown
    assert len(server.state.requests) == 6  # one call a scene


def test_a_bad_max_cost_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--idea", IDEA, "--max-cost", "-1", "--runs-dir", str(tmp_path)])
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--max-cost" in line and "0 or more" in line


def test_a_run_that_spends_its_cap_stops_and_resumes_with_a_higher_cap(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model=MODEL, api_keys=[KEY]
    )
    request = ScriptRequest(idea=IDEA, duration_s=48, strategy="sequential")
    run_dir = RunStore(tmp_path / "runs").create(request, OpenAIBackend(config).settings())
    cap = SpendCap(0.0004, MODEL)  # a scene costs about $0.0002 here: two or three scenes
    with pytest.raises(SpendCapReached) as stopped:
        run_sync(
            run_async(
                request, OpenAIBackend(config), policy=fast_policy(), run_dir=run_dir, spend=cap
            )
        )
    kept = len(run_dir.load_checkpoint())
    assert 1 <= kept < 6 and cap.spent_usd >= 0.0004
    assert "spend cap reached" in str(stopped.value) and stopped.value.run_dir == str(run_dir.path)
    status = run_dir.status()
    assert status["status"] == "interrupted" and status["scenes_done"] == kept
    assert len(server.state.requests) == kept  # no call was started once the cap was spent

    # too little for what is left: refused before any request
    assert main(["resume", str(run_dir.path), "--max-cost", "0.0001", "--no-progress"]) == 2
    assert "is over --max-cost $0.0001" in capsys.readouterr().err
    assert len(server.state.requests) == kept

    assert main(["resume", str(run_dir.path), "--max-cost", "0.05", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {6 - kept} missing scenes" in out
    assert run_dir.status()["status"] == "finished"
    assert len(server.state.requests) == 6  # each scene paid for once
