"""The dashboard side of tail tolerance (issue 10): hedged and adaptive lanes on Compare, the
hang switch in the sidebar, backup calls on the Gantt, the concurrency line, the new columns.

Every run here is real (the simulated backend at a fast time scale); a hung call is drawn
from (seed, call, attempt), so seed 0's scene 14 hangs in every lane of a comparison.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from _dashboard import FAST, open_app, poll
from conftest import fast_policy

from storygen import RetryPolicy, RunStore, Script, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.charts import (
    BACKUP_LOST,
    BACKUP_WON,
    comparison_figures,
    concurrency_figure,
    timeline_figure,
)
from storygen.analysis.frames import (
    batch_frame,
    concurrency_frame,
    display_summary,
    scene_frame,
    scenes_of,
    summary_frame,
)
from storygen.analysis.report import comparison_report
from storygen.backends.factory import build_backend
from storygen.backends.simulated import draw_hang
from storygen.core.labels import labels_for, request_label
from storygen.core.models import AdaptiveSettings, HedgeSettings
from storygen.runner.plan import Tuning, comparison_plan, plan_requests

COMPARE = "pages/compare.py"
BASE = ScriptRequest(idea="A fox opens a bakery", duration_s=160)  # 20 scenes, seed 0
HUNG = 14  # seed 0: the one scene of 20 whose first call hangs at a 2% hang rate


def _run(
    backend: SimulatedBackend | None = None, policy: RetryPolicy | None = None, **changes: Any
) -> Script:
    request = BASE.model_copy(update=changes)
    backend = backend or SimulatedBackend(time_scale=FAST)
    return generate(request, backend, policy=policy or fast_policy())


@pytest.fixture(scope="module")
def runs() -> dict[str, Script]:
    """Plain, hedged with hangs (a backup wins), hedged early (backups lose), adaptive twice,
    and adaptive against a rate limit it is not told about (429s)."""
    hangs = {"time_scale": FAST, "hang_rate": 0.02}
    return {
        "plain": _run(strategy="batched", concurrency=5),
        "hedged": _run(
            SimulatedBackend(**hangs), strategy="batched", concurrency=5, hedge=HedgeSettings()
        ),
        # a fixed, short delay: most calls get a backup that loses, the hung one's wins
        "eager": _run(
            SimulatedBackend(**hangs),
            strategy="windowed",
            concurrency=4,
            hedge=HedgeSettings(after_s=0.015, budget=1.0),
        ),
        "adaptive_batched": _run(strategy="batched", concurrency=20, adaptive=AdaptiveSettings()),
        "adaptive_windowed": _run(
            SimulatedBackend(time_scale=FAST, rpm=10),
            RetryPolicy(),  # a 429 waits as its Retry-After says, however many come
            strategy="windowed",
            concurrency=20,
            adaptive=AdaptiveSettings(),
        ),
    }


def test_seed_0_hangs_scene_14_and_not_its_backup() -> None:
    """The fixture every test here leans on: one hung first call, a backup that is not hung."""
    hung = [k for k in range(1, 21) if draw_hang(0, f"scene{k}", 1, 0.02)]
    assert hung == [HUNG]
    assert not draw_hang(0, f"scene{HUNG}#hedge1", 1, 0.02)


# --- the comparison plan ----------------------------------------------------------------


def test_the_plan_follows_each_configuration_with_its_hedged_twin_and_adds_adaptive_lanes() -> None:
    assert comparison_plan([5, 3]) == [("sequential", 1), ("batched", 3), ("batched", 5)]
    assert comparison_plan([5, "adaptive"], ["adaptive"], hedged=True, adaptive_max=12) == [
        ("sequential", 1),
        ("batched", 5),
        ("batched", 5, Tuning(hedge=True)),
        ("batched", 12, Tuning(adaptive=True)),
        ("batched", 12, Tuning(hedge=True, adaptive=True)),
        ("windowed", 12, Tuning(adaptive=True)),
        ("windowed", 12, Tuning(hedge=True, adaptive=True)),
    ]


def test_planned_requests_hedge_and_adapt_only_where_asked_under_unique_labels() -> None:
    plan = comparison_plan([5, "adaptive"], hedged=True, adaptive_max=12)
    requests = plan_requests(BASE, plan, measure_sequential=True)
    labels = [request_label(r) for r in requests]
    assert labels == [
        "sequential",
        "batched(5)",
        "batched(5)+hedge",
        "batched(adaptive)",
        "batched(adaptive)+hedge",
    ]
    assert [r.hedge is not None for r in requests] == [False, False, True, False, True]
    assert [r.adaptive is not None for r in requests] == [False, False, False, True, True]
    assert [r.concurrency for r in requests] == [1, 5, 5, 12, 12]  # adaptive: the most
    # the same work otherwise: the same idea, scenes and seed, so the same drawn latencies
    assert {(r.idea, r.scene_count, r.seed) for r in requests} == {(BASE.idea, 20, 0)}


def test_a_base_request_s_own_hedge_settings_are_kept() -> None:
    """A notebook's request with its own hedge delay keeps it in every lane of the plan."""
    base = BASE.model_copy(update={"hedge": HedgeSettings(after_s=2.0)})
    requests = plan_requests(base, comparison_plan([5], hedged=True), measure_sequential=False)
    assert [r.hedge for r in requests] == [HedgeSettings(after_s=2.0)] * 2


# --- the sidebar's hang switch ----------------------------------------------------------


def test_the_hang_switch_puts_hung_calls_into_the_simulated_backend(monkeypatch, tmp_path) -> None:
    at = open_app(monkeypatch, tmp_path / "runs")
    config = at.session_state["backend_choice"].config
    assert config.hang_rate == 0.0
    at.toggle(key="sim_hangs").set_value(True).run()
    config = at.session_state["backend_choice"].config
    assert (config.hang_rate, config.hang_factor) == (0.02, 30.0)
    backend = build_backend(config)
    assert backend.latency(0, f"scene{HUNG}", 1) == pytest.approx(30 * 8.0 * FAST)


# --- Compare, live: batched(5) against batched(5)+hedge with hung calls -----------------


def _summary(at: Any) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Configuration" in d.value.columns)


def _has_summary(at: Any) -> bool:
    return any("Configuration" in d.value.columns for d in at.dataframe)


def _figures(at: Any) -> list[go.Figure]:
    """The page's charts as Plotly figures, read back from what the page sent."""
    return [pio.from_json(chart.proto.spec) for chart in at.get("plotly_chart")]


def _values(array: Any) -> list[float]:
    """A trace's numbers as sent to the browser: a list, or plotly's base64 typed array."""
    if isinstance(array, dict) and "bdata" in array:
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return list(array)


def test_compare_hedged_and_plain_lanes_on_the_same_hung_calls(monkeypatch, tmp_path) -> None:
    """With hung calls on, "batched(5)+hedge" sends a backup for scene 14 and "batched(5)"
    waits for it: only the hedged lane counts hedges, and its Gantt shows the backup."""
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs, page=COMPARE)
    at.toggle(key="sim_hangs").set_value(True).run()
    at.number_input(key="cmp_duration").set_value(160)  # 20 scenes
    at.multiselect(key="cmp_batched").set_value([5])
    at.toggle(key="cmp_hedged").set_value(True).run()
    at.button[0].click().run()
    assert [lane.label for lane in at.session_state["job_compare"].lanes] == [
        "sequential",
        "batched(5)",
        "batched(5)+hedge",
    ]
    poll(at, _has_summary)
    rows = [m.value for m in at.markdown if "check_circle" in m.value]
    assert ["hedged" in row for row in rows] == [False, False, True]  # each lane's own count
    summary = _summary(at).set_index("Configuration")
    assert summary.loc["sequential", "Hedges"] == 0
    assert summary.loc["batched(5)", "Hedges"] == 0
    assert summary.loc["batched(5)+hedge", "Hedges"] >= 1
    assert summary.loc["batched(5)+hedge", "Extra calls (%)"] > 0
    assert summary.loc["batched(5)", "Extra calls (%)"] == 0

    stored = {
        request_label(RunStore(runs).open(i.run_id).request()): i for i in RunStore(runs).list()
    }
    plain = RunStore(runs).open(stored["batched(5)"].run_id).load_checkpoint()
    hedged = RunStore(runs).open(stored["batched(5)+hedge"].run_id).load_checkpoint()
    # the switch reached the backend: the plain lane's scene 14 waited out its hang...
    hang_s = 30 * 8.0 * FAST
    assert plain[HUNG][1].end_s - plain[HUNG][1].start_s >= 0.99 * hang_s
    assert not any(t.hedged for _, t in plain.values())
    # ...and the hedged lane's backup answered first
    assert hedged[HUNG][1].hedged and hedged[HUNG][1].hedge_won

    figures = _figures(at)
    (timeline,) = [f for f in figures if "Timeline" in f.layout.title.text]
    rows = [a.text for a in timeline.layout.annotations]
    assert rows == ["sequential", "batched(5)", "batched(5)+hedge"]
    (backup,) = [t for t in timeline.data if t.name == BACKUP_WON]
    assert backup.yaxis == "y3"  # in the hedged lane's row only
    assert HUNG in _values(backup.y)
    assert not any("concurrency" in f.layout.title.text for f in figures)


def test_compare_adds_an_adaptive_lane_with_its_concurrency_under_the_timeline(
    monkeypatch, tmp_path
) -> None:
    at = open_app(monkeypatch, tmp_path / "runs", page=COMPARE)
    at.number_input(key="cmp_duration").set_value(160)
    at.multiselect(key="cmp_batched").set_value([5])
    at.multiselect(key="cmp_windowed").set_value(["adaptive"]).run()
    at.number_input(key="cmp_adaptive_max").set_value(8).run()
    at.button[0].click().run()
    poll(at, _has_summary)
    summary = _summary(at).set_index("Configuration")
    assert list(summary.index) == ["sequential", "batched(5)", "windowed(adaptive)"]
    assert summary.loc["batched(5)", "Final concurrency"] == 5
    assert 1 <= summary.loc["windowed(adaptive)", "Final concurrency"] <= 8
    figures = _figures(at)
    assert len(figures) == 6  # the five of every comparison, and the concurrency
    assert "concurrency" in figures[1].layout.title.text  # right under the timeline
    (line,) = figures[1].data
    assert line.name == "windowed(adaptive)"
    assert max(_values(line.y)) <= 8


# --- the Gantt ---------------------------------------------------------------------------


def test_the_gantt_draws_each_backup_from_its_start_to_the_answer_and_says_who_won(
    runs,
) -> None:
    plain, eager = runs["plain"], runs["eager"]
    scenes = scenes_of([plain, eager])
    fig = timeline_figure(scenes)
    hedged = scenes[(scenes["config"] == "windowed(4)+hedge") & scenes["hedged"]]
    won, lost = hedged[hedged["hedge_won"]], hedged[~hedged["hedge_won"]]
    assert HUNG in list(won["scene"]) and len(lost) >= 3  # the fixture has both kinds
    for name, rows in ((BACKUP_WON, won), (BACKUP_LOST, lost)):
        (bars,) = [t for t in fig.data if t.name == name]
        assert bars.yaxis == "y2"  # the hedged run's row; the plain run has no backup
        assert list(bars.y) == list(rows["scene"])
        assert list(bars.base) == pytest.approx(list(rows["hedge_start_s"]))
        assert list(bars.x) == pytest.approx(list(rows["end_s"] - rows["hedge_start_s"]))
        assert bars.width < 0.85  # thinner than the scene's own bar, which it sits inside
    (scene_bars,) = [t for t in fig.data if t.name == "windowed(4)+hedge"]
    notes = {int(y): data[3] for y, data in zip(scene_bars.y, scene_bars.customdata, strict=True)}
    assert all("backup won" in notes[k] for k in won["scene"])
    assert all("first call won" in notes[k] for k in lost["scene"])
    assert all(notes[k] == "" for k in set(notes) - set(hedged["scene"]))


def test_a_scene_frame_says_which_scenes_were_hedged_and_when_the_backup_started(runs) -> None:
    script = runs["eager"]
    frame = scene_frame(script.meta.timeline, "x", "windowed")
    assert list(frame.columns[-3:]) == ["hedged", "hedge_start_s", "hedge_won"]
    for row, timing in zip(frame.itertuples(), script.meta.timeline, strict=True):
        assert (row.scene, row.hedged, row.hedge_won) == (
            timing.index,
            timing.hedged,
            timing.hedge_won,
        )
        if timing.hedge_start_s is None:
            assert math.isnan(row.hedge_start_s)
        else:
            assert row.hedge_start_s == timing.hedge_start_s


# --- concurrency over time ----------------------------------------------------------------


def test_the_concurrency_figure_has_a_step_line_per_adaptive_run_following_its_trace(
    runs,
) -> None:
    scripts = [runs["plain"], runs["adaptive_batched"], runs["adaptive_windowed"]]
    labels = labels_for(scripts)
    fig = concurrency_figure(concurrency_frame(scripts, labels))
    assert [t.name for t in fig.data] == ["batched(adaptive)", "windowed(adaptive)"]
    for line, script in zip(fig.data, scripts[1:], strict=True):
        trace = script.meta.concurrency_trace
        assert len(trace) >= 2  # it did change its mind during the run
        assert line.line.shape == "hv"  # a limit holds until the next change
        assert list(line.x[: len(trace)]) == pytest.approx([t for t, _ in trace])
        assert list(line.y[: len(trace)]) == [limit for _, limit in trace]
        # and the line reaches the run's last answer at the limit it ended with
        assert line.x[-1] == pytest.approx(max(t.end_s for t in script.meta.timeline))
        assert line.y[-1] == script.meta.final_concurrency


def test_the_concurrency_chart_joins_a_comparison_only_when_a_run_is_adaptive(runs) -> None:
    def figures(scripts: list[Script]) -> dict[str, Any]:
        labels = labels_for(scripts)
        scenes = scenes_of(scripts, labels)
        summary = summary_frame(scripts, labels, baseline="estimated")
        limits = concurrency_frame(scripts, labels)
        return comparison_figures(scenes, batch_frame(scenes), summary, limits)

    fixed = figures([runs["plain"], runs["hedged"]])
    assert list(fixed) == ["timeline", "batch_time", "speedup", "tradeoff", "continuity"]
    mixed = figures([runs["plain"], runs["adaptive_windowed"]])
    assert list(mixed) == [
        "timeline",
        "concurrency",
        "batch_time",
        "speedup",
        "tradeoff",
        "continuity",
    ]
    summary = summary_frame([runs["plain"], runs["adaptive_windowed"]], baseline="estimated")
    html = comparison_report(summary, mixed, BASE)
    assert html.index('id="chart-timeline"') < html.index('id="chart-concurrency"')
    empty = concurrency_figure(concurrency_frame([runs["plain"]]))
    assert "No adaptive run" in empty.layout.annotations[0].text


# --- the summary table --------------------------------------------------------------------


def test_the_summary_shows_hedges_extra_calls_429s_and_the_final_concurrency(runs) -> None:
    scripts = [runs["plain"], runs["hedged"], runs["adaptive_windowed"]]
    summary = summary_frame(scripts, baseline="estimated")
    shown = display_summary(summary)
    assert list(shown.columns[-4:]) == ["Hedges", "Extra calls (%)", "429s", "Final concurrency"]
    metas = [s.meta for s in scripts]
    assert list(shown["Hedges"]) == [m.hedges for m in metas] == [0, 1, 0]
    calls = [sum(t.attempts for t in m.timeline) for m in metas]
    assert list(shown["Extra calls (%)"]) == [
        round(100 * m.hedges / n, 1) for m, n in zip(metas, calls, strict=True)
    ]
    assert list(shown["429s"]) == [m.rate_limited for m in metas]
    assert shown["429s"].iloc[2] > 0  # the unknown limit was met
    assert list(shown["Final concurrency"]) == [5, 5, metas[2].final_concurrency]
    assert metas[2].final_concurrency < 20  # it backed off from its maximum
