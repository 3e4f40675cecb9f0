"""A shared deployment caps every run (its video's length, its calls in flight, its cost) and
fixes the backend: a visitor types no URL and no key. Each refusal is said next to the field
to change, before any call."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import APP, FAST, poll, shared_mode, shown_after, texts, visit
from conftest import Serve
from streamlit.testing.v1 import AppTest

from storygen import RunStore

KEY = "sk-shared-0123456789abcdef"


@pytest.fixture(autouse=True)
def shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return shared_mode(monkeypatch, tmp_path / "runs")


def _open(page: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _said_after(at: AppTest, label: str) -> str:
    message = shown_after(at.main, label)
    assert message is not None, f"nothing shown after {label!r}"
    return str(message.value)


def test_a_video_longer_than_the_cap_is_refused_next_to_its_field(shared: Path) -> None:
    at = _open()
    assert at.number_input(key="sim_time_scale").max == 1.0  # real speed at the slowest
    assert "spend_cap_shared" not in [n.key for n in at.sidebar.number_input]  # costs nothing
    at.number_input(key="sim_time_scale").set_value(FAST).run()
    at.number_input(key="gen_duration").set_value(1200)
    at.button[0].click().run()
    assert not at.exception, at.exception
    said = _said_after(at, "Duration (seconds)")
    assert said == "this shared dashboard writes videos of at most 600 s (got 1200 s)"
    assert "job_generate" not in at.session_state and RunStore(shared).list() == []


def test_more_calls_in_flight_than_the_cap_are_refused_next_to_the_batch_size(
    monkeypatch: pytest.MonkeyPatch, shared: Path
) -> None:
    monkeypatch.setenv("STORYGEN_MAX_IN_FLIGHT", "4")
    at = _open()
    at.number_input(key="gen_concurrency").set_value(5)  # the default batch size
    at.button[0].click().run()
    said = _said_after(at, "Batch size / window")
    assert said == "this shared dashboard allows at most 4 calls in flight per run (got 5)"
    assert "job_generate" not in at.session_state
    assert (
        "Per run: at most 600 s of video, 4 calls in flight and $1.00; 4 runs at once on this "
        "dashboard, every visitor's together." in texts(at)
    )


def test_a_comparison_lane_over_the_cap_is_named(shared: Path) -> None:
    at = _open("pages/compare.py")
    at.number_input(key="cmp_duration").set_value(64)
    at.multiselect(key="cmp_batched").set_value([5, 20]).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert "batched(20): this shared dashboard allows at most 10 calls in flight per run " \
        "(got 20)" in errors  # fmt: skip
    assert "job_compare" not in at.session_state


def test_bulk_rows_over_the_caps_are_rejected_and_the_budget_bounded(shared: Path) -> None:
    at = _open("pages/bulk.py")
    assert at.number_input(key="bulk_max_in_flight").value == 10  # the cap, not 50
    at.number_input(key="bulk_max_in_flight").set_value(40).run()
    said = _said_after(at, "Max calls in flight")
    assert said == "this shared dashboard allows at most 10 calls in flight (got 40)"
    assert at.button(key="bulk_run").disabled

    at.number_input(key="bulk_max_in_flight").set_value(10).run()
    ideas = "idea,duration_s,concurrency\nA long saga,1200,\nA wide one,64,20\nA short one,16,\n"
    at.file_uploader(key="bulk_file").set_value(("i.csv", ideas.encode(), "text/csv")).run()
    (table,) = [d.value for d in at.dataframe if "check" in d.value.columns]
    checks = table.set_index("row")["check"].to_dict()
    assert checks == {
        2: "this shared dashboard writes videos of at most 600 s (got 1200 s)",
        3: "this shared dashboard allows at most 10 calls in flight per run (got 20)",
        4: "OK",
    }
    assert not at.button(key="bulk_run").disabled  # the row within the caps still runs


def test_the_backend_is_fixed_and_the_key_never_shown(
    monkeypatch: pytest.MonkeyPatch, serve: Serve, shared: Path
) -> None:
    server = serve()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("STORYGEN_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("STORYGEN_MAX_COST", "0.01")
    at = _open()
    labels = [w.label for w in at.sidebar.text_input]
    assert labels == []  # no base URL, no model, no key to type
    assert not at.sidebar.radio  # no choice of backend
    shown = " ".join(texts(at))
    assert f"server `{server.url}`, model `gpt-4o-mini`" in shown and KEY not in shown
    cap = at.sidebar.number_input(key="spend_cap_shared")
    assert cap.value == pytest.approx(0.01)  # the deployment's cap, which is also the most

    at.number_input(key="gen_duration").set_value(600)
    at.button[0].click().run()  # estimated over the cap: refused before any call
    assert not at.exception, at.exception
    refused = [e.value for e in at.error if e.value.startswith("Spend cap (sidebar): ")]
    assert refused and "is over the spend cap" in refused[0]
    assert server.state.requests == []  # not one request reached the server
    assert "job_generate" not in at.session_state


def test_a_misconfigured_cap_stops_the_dashboard_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORYGEN_MAX_IN_FLIGHT", "lots")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "This shared dashboard is misconfigured: STORYGEN_MAX_IN_FLIGHT must be a number "
        "from 1 to 100 (got 'lots')"
    ]
    assert not at.button  # nothing to run


def test_a_busy_dashboard_starts_no_more_jobs_than_its_cap(
    monkeypatch: pytest.MonkeyPatch, shared: Path
) -> None:
    monkeypatch.setenv("STORYGEN_MAX_RUNNING", "1")
    a = visit(time_scale=1.0)  # 75 scenes of ~8 s one at a time: running for the whole test
    a.number_input(key="gen_concurrency").set_value(1)
    a.button[0].click().run()
    job = a.session_state["job_generate"]
    assert not job.done

    b = visit()  # another visitor, another workspace: refused while A's run goes on
    b.text_area(key="gen_idea").set_value("Two otters run a night ferry")
    b.button[0].click().run()
    assert not b.exception, b.exception
    busy = "This shared dashboard is busy: 1 run is in progress, at most 1 at once."
    assert any(e.value.startswith(busy) for e in b.error), [e.value for e in b.error]
    assert "job_generate" not in b.session_state
    assert b.text_area(key="gen_idea").value == "Two otters run a night ferry"  # kept

    a.button(key="gen_cancel").click().run()
    poll(a, lambda at: job.done)
    b.button[0].click().run()  # room again
    assert "job_generate" in b.session_state
    poll(b, lambda at: at.session_state["job_generate"].done)
