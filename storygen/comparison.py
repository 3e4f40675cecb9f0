"""compare() and sweep(): the Compare page as one call, for notebooks and scripts.

Every lane runs at once on one event loop, each with its own backend built from the same
config and seed, so on the simulated backend every lane meets the same drawn latencies and
only scheduling differs (exactly as on the page). The frames come from storygen.analysis.frames and
the charts from storygen.analysis.charts: there is no second implementation of any number.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from storygen.analysis import charts, frames, report, tables
from storygen.backends.config import BackendConfig
from storygen.backends.factory import build_backend
from storygen.core.bounds import CONCURRENCY
from storygen.core.errors import InvalidRequestError, RunFailedError
from storygen.core.export import findings_of, frame_csv
from storygen.core.labels import Baseline, request_label
from storygen.core.models import STRATEGIES, Script, ScriptRequest, StrategyName
from storygen.runner.lanes import LaneRun, Lanes, run_lane
from storygen.runner.plan import (
    DEFAULT_BATCH_SIZES,
    baseline_of,
    comparison_plan,
    measures_sequential,
    plan_requests,
    strategy_plan,
)
from storygen.runner.progress import LaneBar
from storygen.runner.runs import run_sync
from storygen.store import RunStore

_plotly_js_sent = False


def _plotly_js() -> bool:
    """Inline plotly.js in the first chart this process shows, so notebooks and their HTML
    renders work offline; later charts in the same page reuse it."""
    global _plotly_js_sent
    first, _plotly_js_sent = not _plotly_js_sent, True
    return first


@dataclass(frozen=True)
class Comparison:
    """The same request under several configurations: tables, charts and exports."""

    request: ScriptRequest
    scripts: dict[str, Script]  # by configuration label, in the order they were planned
    baseline: Baseline
    failures: dict[str, str] = field(default_factory=dict)  # label -> why that lane failed

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row a configuration: wall time, speedup, efficiency, lag, ideal, tokens, cost,
        continuity findings (in all, per 10 scenes, by kind) and repair calls."""
        return frames.summary_frame(
            list(self.scripts.values()), list(self.scripts), baseline=self.baseline
        )

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """One row a scene (and the outline call) of every run: when, how long, what it saw."""
        return frames.scenes_of(list(self.scripts.values()), list(self.scripts))

    @cached_property
    def batches(self) -> pd.DataFrame:
        """One row a batch: its time and the wait for its straggler."""
        return frames.batch_frame(self.timeline)

    @cached_property
    def scenes(self) -> pd.DataFrame:
        """What each configuration wrote, one row a scene (the script table with a config)."""
        each = [
            tables.script_frame(s.scenes, findings_of(s)).assign(config=label)
            for label, s in self.scripts.items()
        ]
        if not each:
            return tables.script_frame([]).assign(config=pd.Series(dtype=str))
        return pd.concat(each, ignore_index=True)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """Every continuity finding of every configuration, one row each with its evidence."""
        return tables.findings_frame(list(self.scripts.values()), list(self.scripts))

    @cached_property
    def figures(self) -> dict[str, go.Figure]:
        """timeline, batch_time, speedup, tradeoff (speed vs context lag) and continuity
        (speed vs continuity findings), as on the Compare page."""
        return charts.comparison_figures(self.timeline, self.batches, self.summary)

    def report(self, path: str | Path) -> Path:
        """The standalone HTML report (table, every chart, the continuity report; offline)."""
        out = Path(path)
        text = report.comparison_report(
            self.summary, self.figures, self.request, findings=self.findings
        )
        out.write_text(text, encoding="utf-8")
        return out

    def to_csv(self, path: str | Path) -> Path:
        """The summary table, one row a configuration (text cells neutralised, as on the page)."""
        out = Path(path)
        out.write_text(frame_csv(self.summary), encoding="utf-8")
        return out

    def to_json(self, path: str | Path) -> Path:
        """Summary, batches and scene timings, as the page's "Results JSON"."""
        out = Path(path)
        text = frames.results_json(self.summary, self.batches, self.timeline)
        out.write_text(text, encoding="utf-8")
        return out

    def __repr__(self) -> str:
        best = self.summary.loc[self.summary["speedup"].idxmax()] if self.scripts else None
        lead = f", fastest {best['config']} at {best['speedup']:.2f}x" if best is not None else ""
        failed = f", {len(self.failures)} failed" if self.failures else ""
        return (
            f"<Comparison {self.request.idea!r}: {len(self.scripts)} configurations"
            f"{lead} ({self.baseline} baseline){failed}>"
        )

    def _repr_html_(self) -> str:
        parts = [
            f"<h4>{html.escape(self.request.idea)} · {self.request.scene_count} scenes</h4>",
            frames.display_summary(self.summary).to_html(index=False, border=0, na_rep="n/a"),
        ]
        if self.baseline == "estimated":
            parts.append(f"<p><i>Speedups use the {html.escape(charts.ESTIMATED_NOTE)}.</i></p>")
        for label, error in self.failures.items():
            parts.append(f"<p><b>{html.escape(label)} failed:</b> {html.escape(error)}</p>")
        if self.scripts:
            parts.append(
                self.figures["speedup"].to_html(full_html=False, include_plotlyjs=_plotly_js())
            )
        return "\n".join(parts)


def _base_request(
    idea: str | ScriptRequest,
    duration_s: float,
    bible: bool | None = None,
    repair: bool | None = None,
) -> ScriptRequest:
    """The request every lane shares; ``bible`` and ``repair``, when given, override the
    request's own."""
    asked = {"bible": bible, "repair": repair}
    chosen = {name: on for name, on in asked.items() if on is not None}
    if isinstance(idea, ScriptRequest):
        return ScriptRequest.build(**{**idea.model_dump(), **chosen}) if chosen else idea
    if not isinstance(idea, str):
        raise InvalidRequestError(
            f"idea must be a string or a ScriptRequest (got {type(idea).__name__})", "idea"
        )
    return ScriptRequest.build(idea=idea, duration_s=duration_s, **chosen)


def _backend_config(backend: BackendConfig | None, time_scale: float | None) -> BackendConfig:
    if backend is None:
        return BackendConfig.build_config(time_scale=1.0 if time_scale is None else time_scale)
    if time_scale is not None:
        if backend.kind != "simulated":
            raise InvalidRequestError(
                "time_scale applies to the simulated backend only; a real API runs at its speed",
                "time_scale",
            )
        return backend.model_copy(update={"time_scale": time_scale})
    return backend


async def _run_lanes(
    requests: Sequence[ScriptRequest],
    labels: Sequence[str],
    config: BackendConfig,
    store: RunStore | None,
    progress: bool,
    parallel: int | None,
) -> list[Script | RunFailedError]:
    lanes = Lanes(parallel)
    # A sweep's many lanes keep only the running bars on screen (``leave=False``).
    leave = parallel is None
    bars = [
        LaneBar(label, position=i, leave=leave) if progress else None
        for i, label in enumerate(labels)
    ]

    async def lane(request: ScriptRequest, bar: LaneBar | None) -> Script | RunFailedError:
        async with lanes.turn():  # a sweep creates each run when its turn comes
            run_dir = store.create(request, config.settings()) if store is not None else None
            subscribers = (bar,) if bar is not None else ()
            try:
                run = LaneRun(request, build_backend(config), run_dir, subscribers=subscribers)
                return await run_lane(run)
            except RunFailedError as exc:
                return exc
            finally:
                if bar is not None:
                    bar.close()

    return await lanes.gather(lane(r, b) for r, b in zip(requests, bars, strict=True))


def _collect(
    base: ScriptRequest,
    labels: Sequence[str],
    outcomes: Sequence[Script | RunFailedError],
    measured: bool,
) -> Comparison:
    scripts = {lb: o for lb, o in zip(labels, outcomes, strict=True) if isinstance(o, Script)}
    failures = {
        lb: str(o) for lb, o in zip(labels, outcomes, strict=True) if not isinstance(o, Script)
    }
    if not scripts:
        first = next(o for o in outcomes if isinstance(o, RunFailedError))
        raise RunFailedError(f"every configuration failed; the first: {first}") from first
    return Comparison(base, scripts, baseline_of(scripts.values(), measured), failures)


def compare(
    idea: str | ScriptRequest,
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    windows: Iterable[int] = (),
    outline_windows: Iterable[int] = (),
    pipelined: Iterable[int] = (),
    *,
    backend: BackendConfig | None = None,
    store: RunStore | None = None,
    duration_s: float = 600,
    time_scale: float | None = None,
    measure_sequential: bool | None = None,
    progress: bool = True,
    bible: bool | None = None,
    repair: bool | None = None,
) -> Comparison:
    """Write ``idea`` sequentially and under every configuration, all at once.

    ``backend`` defaults to the simulated LLM (``time_scale`` 1 is real speed; 0.0125 makes
    a call last 0.1 s). On a paid API the sequential run is estimated from measured call
    times unless ``measure_sequential``. ``bible`` gives every lane a story bible call (or
    none), whatever the request says; ``repair`` likewise gives every lane the repair pass
    (``engine.repair``) or none. ``pipelined`` sizes are calls in flight of lanes that
    stream each answer and start a scene once its predecessor's summary is known (every
    earlier summary seen: lag 0). Lanes that fail are listed in ``.failures``.
    """
    base = _base_request(idea, duration_s, bible, repair)
    config = _backend_config(backend, time_scale)
    measured = measures_sequential(config, measure_sequential)
    plan = comparison_plan(batch_sizes, windows, outline_windows, pipelined)
    requests = plan_requests(base, plan, measured)
    labels = [request_label(r) for r in requests]
    outcomes = run_sync(_run_lanes(requests, labels, config, store, progress, None))
    return _collect(base, labels, outcomes, measured)


def sweep(
    idea: str | ScriptRequest,
    strategy: StrategyName = "batched",
    sizes: Iterable[int] = range(1, 26),
    *,
    backend: BackendConfig | None = None,
    store: RunStore | None = None,
    duration_s: float = 600,
    time_scale: float | None = None,
    parallel: int = 4,
    progress: bool = True,
) -> pd.DataFrame:
    """Speedup, efficiency, context lag, tokens and measured ÷ ideal for every size, one row
    each, against a sequential run of the same request (the first row).

    ``parallel`` bounds how many runs go at once. ``sweep_figure(frame)`` draws it.
    """
    if strategy not in STRATEGIES or strategy == "sequential":
        allowed = ", ".join(s for s in STRATEGIES if s != "sequential")
        raise InvalidRequestError(
            f"strategy must be one of {allowed} (got {strategy!r})", "strategy"
        )
    if parallel not in CONCURRENCY:
        raise InvalidRequestError(
            f"parallel must be {CONCURRENCY.low}-{CONCURRENCY.high} (got {parallel})", "parallel"
        )
    sizes = sorted(set(sizes))
    if not sizes:
        raise InvalidRequestError("sizes needs at least one batch size or window", "sizes")
    base = _base_request(idea, duration_s)
    config = _backend_config(backend, time_scale)
    plan = strategy_plan([strategy], sizes)
    requests = plan_requests(base, plan, measure_sequential=True)
    labels = [request_label(r) for r in requests]
    outcomes = run_sync(_run_lanes(requests, labels, config, store, progress, parallel))
    return _collect(base, labels, outcomes, measured=True).summary


def sweep_figure(frame: pd.DataFrame, title: str = "Speedup vs concurrency") -> go.Figure:
    """A sweep's speedups against the ideal line speedup = concurrency."""
    return charts.speedup_figure(frame, title=title, labels=len(frame) <= 8)
