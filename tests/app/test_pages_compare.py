"""The Compare page: the same request sequentially and at batch sizes 3, 5 and 10, for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import FAST, open_app, poll, shown_after

import storygen
from storygen import RunStore, SimulatedBackend

COMPARE = "pages/compare.py"
LANES = (("sequential", "sequential"), ("batched(5)", "batched"))  # label, strategy


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def _summary(at):  # type: ignore[no-untyped-def]
    return next(d.value for d in at.dataframe if "Configuration" in d.value.columns)


def _has_summary(at) -> bool:  # type: ignore[no-untyped-def]
    return any("Configuration" in d.value.columns for d in at.dataframe)


def test_compare_page_offers_batch_sizes_3_5_10_and_more(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=COMPARE)
    assert at.title[0].value == "Compare batch sizes"
    assert at.multiselect(key="cmp_batched").value == [3, 5, 10]
    assert at.multiselect(key="cmp_windowed").value == []
    assert at.multiselect(key="cmp_outline").value == []
    assert "adaptive" in at.multiselect(key="cmp_windowed").options  # a size found at run time
    assert at.toggle(key="cmp_hedged").value is False  # hedged twins only when asked
    assert at.button[0].label == "Run comparison"


def test_a_comparison_runs_every_lane_and_shows_summary_charts_and_downloads(
    monkeypatch, runs
) -> None:
    at = open_app(monkeypatch, runs, page=COMPARE)
    at.number_input(key="cmp_duration").set_value(160)  # 20 scenes
    at.button[0].click().run()
    assert len(at.get("progress")) == 4  # a lane per configuration, each with its progress
    poll(at, _has_summary)
    summary = _summary(at)
    assert list(summary["Configuration"]) == [
        "sequential",
        "batched(3)",
        "batched(5)",
        "batched(10)",
    ]
    assert summary["Speedup"].iloc[0] == "1.00x"
    speedups = [float(s.rstrip("x")) for s in summary["Speedup"]]
    assert speedups[1] < speedups[2] < speedups[3]  # more in parallel, faster
    assert len(at.get("plotly_chart")) == 5  # and speed vs continuity findings
    labels = [d.label for d in at.download_button]
    assert labels[:4] == ["Results CSV", "Scene timings CSV", "Results JSON", "HTML report"]
    stored = RunStore(runs).list()
    assert sorted(i.strategy for i in stored) == ["batched"] * 3 + ["sequential"]
    assert {i.status for i in stored} == {"finished"}


def test_cancel_ends_every_lane_as_a_resumable_run(monkeypatch, runs) -> None:
    """Cancel is there while the lanes run; clicking it ends each one "cancelled" with the
    scenes it kept, every run "interrupted" on disk, and any of them resumes to the end."""
    at = open_app(monkeypatch, runs, time_scale=0.05, page=COMPARE)  # ~0.4 s a call
    at.number_input(key="cmp_duration").set_value(160)  # 20 scenes
    at.multiselect(key="cmp_batched").set_value([5]).run()
    at.button[0].click().run()
    cancel = at.button(key="cmp_cancel")
    assert (cancel.label, cancel.disabled) == ("Cancel", False)
    poll(at, lambda at: at.session_state["job_compare"].lanes[1].snapshot().done >= 1)
    at.button(key="cmp_cancel").click().run()
    # Each lane says "cancelled" as its run stops; the button goes once the job has ended.
    poll(at, lambda at: "cmp_cancel" not in [b.key for b in at.button])
    assert not at.error and any("cancelled" in w.value for w in at.warning)
    stored = {i.strategy: i for i in RunStore(runs).list()}
    assert {i.status for i in stored.values()} == {"interrupted"}
    assert stored["batched"].scenes_done >= 1
    kept = {label: stored[strategy].scenes_done for label, strategy in LANES}
    assert [w.value for w in at.warning][:2] == [
        f"{label}: cancelled: {n} of 20 scenes kept; Resume finishes it"
        for label, n in kept.items()
    ]
    rows = [m.value for m in at.markdown if "cancelled at" in m.value]
    assert rows == [f":orange[:material/cancel:] cancelled at {n}/20" for n in kept.values()]
    run = RunStore(runs).open(stored["batched"].run_id)
    assert [
        s.index for s in storygen.resume(run, SimulatedBackend(time_scale=FAST)).scenes
    ] == list(range(1, 21))


def test_windowed_and_outline_runs_can_be_added(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=COMPARE)
    at.number_input(key="cmp_duration").set_value(80)
    at.multiselect(key="cmp_batched").set_value([5])
    at.multiselect(key="cmp_windowed").set_value([5])
    at.multiselect(key="cmp_outline").set_value([5]).run()
    at.button[0].click().run()
    poll(at, _has_summary)
    assert list(_summary(at)["Configuration"]) == [
        "sequential",
        "batched(5)",
        "windowed(5)",
        "outline(5)",
    ]


def test_nothing_to_compare_and_bad_input_are_said_next_to_their_fields(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=COMPARE)
    at.multiselect(key="cmp_batched").set_value([]).run()
    at.button[0].click().run()
    assert not at.exception
    assert "at least one batch size" in at.error[0].value
    at.multiselect(key="cmp_batched").set_value([3]).run()
    at.number_input(key="cmp_duration").set_value(4).run()
    at.button[0].click().run()
    message = shown_after(at.main, "Duration (seconds)")
    assert message.type == "error" and "8 to 7200 seconds" in message.value
    assert "job_compare" not in at.session_state
