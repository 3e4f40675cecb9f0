"""The app's spend cap: the sidebar field (default STORYGEN_MAX_COST), the estimate shown
before Run on a priced model, a run estimated over the cap refused next to the field with
zero requests to serve-sim, and the cap carried by the job into the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import open_app, shown_after
from conftest import PAID_KEY, PRICED_MODEL, Serve
from streamlit.testing.v1 import AppTest

from storygen import RunStore
from storygen.backends.config import BackendConfig
from storygen.core.models import ScriptRequest
from storygen.core.spend import estimate
from storygen.jobs.worker import start_generate

KEY, MODEL = PAID_KEY, PRICED_MODEL
CAP = "Spend cap (USD)"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, paid_key: str) -> None:
    monkeypatch.delenv("STORYGEN_MAX_COST", raising=False)


def test_the_cap_defaults_to_storygen_max_cost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STORYGEN_MAX_COST", "0.25")
    at = open_app(monkeypatch, tmp_path / "runs")
    assert at.number_input(key="spend_cap").label == CAP
    assert at.number_input(key="spend_cap").value == 0.25


def test_a_bad_storygen_max_cost_is_said_next_to_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STORYGEN_MAX_COST", "lots")
    at = open_app(monkeypatch, tmp_path / "runs")
    said = shown_after(at.sidebar, CAP)
    assert "STORYGEN_MAX_COST must be US dollars" in said.value


def test_a_run_estimated_over_the_cap_is_refused_next_to_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, serve: Serve
) -> None:
    server = serve()
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.sidebar.radio[0].set_value("OpenAI-compatible").run()
    at.text_input(key="oa_base_url").set_value(server.url)
    at.text_input(key="oa_model").set_value(MODEL)
    at.number_input(key="spend_cap").set_value(0.001)
    at.number_input(key="gen_duration").set_value(48).run()
    planned = estimate(ScriptRequest(idea=at.text_area[0].value, duration_s=48), MODEL)
    assert planned.usd is not None and planned.usd > 0.001
    line = f"Estimated cost on {MODEL}: ${planned.usd:.4f}"
    assert any(line in c.value for c in at.caption), [c.value for c in at.caption]

    [write] = [b for b in at.button if b.label == "Write the script"]
    write.click().run()
    assert not at.exception, at.exception
    said = shown_after(at.sidebar, CAP)
    assert said.value == (
        f"estimated ${planned.usd:.4f} for {planned.calls} calls is over the spend cap $0.0010"
    )
    assert any("Spend cap (sidebar)" in e.value for e in at.main.error)
    assert server.state.requests == []  # not one request, not even the backend check
    assert RunStore(runs).list() == []


def test_the_job_carries_the_cap_into_the_run(serve: Serve, tmp_path: Path) -> None:
    server = serve()
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model=MODEL, api_keys=[KEY]
    )
    request = ScriptRequest(idea="A robot paints", duration_s=48, strategy="sequential")
    job = start_generate(request, config, store=RunStore(tmp_path), max_cost=0.0004)
    assert job.wait(60)
    lane = job.lanes[0]
    assert lane.status == "capped" and lane.error is None  # stopped, not failed
    assert lane.note is not None and lane.note.startswith("spend cap reached: spent $")
    assert "resume with a higher the spend cap" not in lane.note  # the app's words
    assert lane.note.endswith("resume with a higher spend cap to finish")
    assert lane.run_dir is not None
    kept = len(lane.run_dir.load_checkpoint())
    assert lane.run_dir.status()["status"] == "interrupted" and 1 <= kept < 6
    assert len(server.state.requests) == kept


def _openai(monkeypatch: pytest.MonkeyPatch, runs: Path, url: str, page: str) -> AppTest:
    at = open_app(monkeypatch, runs, page=page)
    at.sidebar.radio[0].set_value("OpenAI-compatible").run()
    at.text_input(key="oa_base_url").set_value(url)
    at.text_input(key="oa_model").set_value(MODEL)
    at.number_input(key="spend_cap").set_value(0.001).run()
    return at


def test_a_comparison_is_estimated_in_total_and_refused_over_the_cap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, serve: Serve
) -> None:
    server = serve()
    runs = tmp_path / "runs"
    at = _openai(monkeypatch, runs, server.url, "pages/compare.py")
    at.number_input(key="cmp_duration").set_value(48)
    at.multiselect(key="cmp_batched").set_value([3, 5]).run()  # no paid sequential run
    lanes = [ScriptRequest(idea=at.text_area[0].value, duration_s=48, strategy="batched",
                           concurrency=size) for size in (3, 5)]  # fmt: skip
    total = sum(estimate(r, MODEL).usd or 0.0 for r in lanes)
    calls = sum(estimate(r, MODEL).calls for r in lanes)
    line = f"Estimated cost on {MODEL}: ${total:.4f} for {calls} calls at most, across 2 runs."
    assert line in [c.value for c in at.caption], [c.value for c in at.caption]

    [run] = [b for b in at.button if b.label == "Run comparison"]
    run.click().run()
    assert not at.exception, at.exception
    said = shown_after(at.sidebar, CAP)
    assert said.value == f"estimated ${total:.4f} for {calls} calls is over the spend cap $0.0010"
    assert server.state.requests == [] and RunStore(runs).list() == []
    assert "job_compare" not in at.session_state


def test_a_bulk_run_is_estimated_in_total_and_refused_over_the_cap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, serve: Serve
) -> None:
    server = serve()
    runs = tmp_path / "runs"
    at = _openai(monkeypatch, runs, server.url, "pages/bulk.py")
    ideas = "idea,duration_s\nA robot paints,48\nA cat sails,24\n"
    at.file_uploader(key="bulk_file").set_value(("i.csv", ideas.encode(), "text/csv")).run()
    at.button(key="bulk_run").click().run()
    assert not at.exception, at.exception
    said = shown_after(at.sidebar, CAP)
    assert said.value.startswith("estimated $") and said.value.endswith(
        "is over the spend cap $0.0010"
    )
    assert server.state.requests == []  # not one request
    assert not (runs / "bulk").exists()  # and no bulk folder left behind
