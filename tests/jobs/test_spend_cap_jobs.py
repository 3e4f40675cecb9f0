"""The app's Compare and Bulk jobs keep a spend cap, over real HTTP against serve-sim with a
priced model: one cap for the whole job (every lane of a comparison, every row of a bulk
run), every run it stopped interrupted on disk with its scenes kept, and the job started
again without a cap finishes them, paying for no scene twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PAID_KEY, PRICED_MODEL, Serve

from storygen.backends.config import BackendConfig
from storygen.bulk.rows import parse_rows
from storygen.core.models import ScriptRequest
from storygen.core.pricing import estimate_cost
from storygen.jobs.bulk import create_bulk, start_bulk
from storygen.jobs.worker import start_comparison, start_resume
from storygen.runner.plan import PlanEntry
from storygen.store import RunDir, RunStore

KEY, MODEL = PAID_KEY, PRICED_MODEL
REQUEST = ScriptRequest(idea="A robot paints", duration_s=48)  # 6 scenes
# two lanes of one call at a time: at most two calls are in flight when the cap is spent
PLAN: list[PlanEntry] = [("sequential", 1), ("batched", 1)]
IDEAS = "idea,duration_s,strategy\nA robot paints,48,sequential\nA cat sails,24,sequential\n"


pytestmark = pytest.mark.usefixtures("paid_key")


def _config(url: str) -> BackendConfig:
    return BackendConfig.build_config(kind="openai", base_url=url, model=MODEL, api_keys=[KEY])


def _costs(run: RunDir) -> list[float]:
    """What each scene kept by ``run`` cost."""
    return [
        estimate_cost(MODEL, t.prompt_tokens, t.completion_tokens) or 0.0
        for _, t in run.load_checkpoint().values()
    ]


def test_a_comparison_shares_one_cap_and_its_lanes_resume_without_it(
    serve: Serve, tmp_path: Path
) -> None:
    server = serve()
    config = _config(server.url)
    cap = 0.0005  # about two and a half scenes, for the two lanes together
    job = start_comparison(
        REQUEST, PLAN, config, store=RunStore(tmp_path), measure_sequential=True, max_cost=cap
    )
    assert job.wait(60)
    runs = [lane.run_dir for lane in job.lanes if lane.run_dir is not None]
    assert len(runs) == len(PLAN)
    assert job.status == "capped"
    for lane in job.lanes:  # each lane stopped, not failed, and says so in the app's words
        assert lane.status == "capped" and lane.error is None, lane.error
        assert lane.note is not None and lane.note.startswith("spend cap reached"), lane.note
    assert {run.status()["status"] for run in runs} == {"interrupted"}
    costs = [c for run in runs for c in _costs(run)]
    assert len(server.state.requests) == len(costs) < 2 * REQUEST.scene_count  # each kept
    # one cap for both lanes: under it when the last calls started, each lane then had at
    # most one call in flight (a cap per lane lets each lane spend all of it)
    assert sum(costs) < cap + len(PLAN) * max(costs)

    for run in runs:  # no cap now: each run writes only what it is missing
        resumed = start_resume(run, config)
        assert resumed.wait(60) and resumed.status == "finished", resumed.lanes[0].error
    assert {run.status()["status"] for run in runs} == {"finished"}
    assert len(server.state.requests) == 2 * REQUEST.scene_count  # no scene paid twice


def test_a_bulk_job_shares_one_cap_across_rows_and_finishes_when_started_again(
    serve: Serve, tmp_path: Path
) -> None:
    server = serve()
    config = _config(server.url)
    store = RunStore(tmp_path / "runs")
    rows = parse_rows(IDEAS, "csv")
    bulk = create_bulk(store, rows, config, source="ideas.csv", max_in_flight=1)
    job = start_bulk(bulk, config, max_cost=0.0001)  # less than one scene
    assert job.wait(60) and job.error is None, job.error

    # one call in flight at a time, and the first answer spent the cap: no other call
    assert len(server.state.requests) == 1
    lines = bulk.summary()
    assert [line.status for line in lines] == ["interrupted", "interrupted"]
    assert all("spend cap reached" in line.error for line in lines)
    assert sum(len(bulk.run(e).load_checkpoint()) for e in bulk.entries) == 1  # kept

    again = start_bulk(bulk, config)  # no cap: the rows left are finished
    assert again.wait(60) and again.status == "finished", again.error
    assert [line.status for line in bulk.summary()] == ["finished", "finished"]
    assert len(server.state.requests) == 6 + 3  # no scene paid twice
