"""Timelines and scripts as pandas DataFrames: the one place the dashboard's numbers come from.

Every metric follows DESIGN.md: wall time, speedup vs sequential, efficiency, ideal makespan,
context lag, batch time (first start to last end), straggler wait (batch time minus the
median call time in the batch), continuity findings (by kind, and per 10 scenes to compare
scripts of different lengths), time to summary (a streamed answer's call start to its
summary) and runaway answers cut. Charts and pages only read these frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

# Re-exported: the summary as people read it and the JSON of the tables lived here first.
from storygen.analysis.display import display_summary, results_json  # noqa: F401
from storygen.core.continuity import KINDS, counts
from storygen.core.export import findings_of
from storygen.core.labels import Baseline, labels_for
from storygen.core.models import SceneTiming, Script
from storygen.core.pricing import estimate_cost
from storygen.scheduling.ideal import ideal_of, mean_lag

SCENE_COLUMNS = (
    "config",
    "strategy",
    "kind",
    "scene",
    "batch",
    "start_s",
    "end_s",
    "call_s",
    "service_s",
    "wait_s",
    "attempts",
    "context_lag",
    "context_size",
    "had_outline",
    "prompt_tokens",
    "completion_tokens",
    # a streamed answer (NaN when it did not stream): run clock, and from its call's start
    "first_token_s",
    "summary_s",
    "time_to_summary_s",
    "runaways",
    # hedging's columns stay last, where they were
    "hedged",
    "hedge_start_s",
    "hedge_won",
)
CONCURRENCY_COLUMNS = ("config", "strategy", "time_s", "limit")
SUMMARY_COLUMNS = (
    "config",
    "strategy",
    "concurrency",
    "scenes",
    "wall_time_s",
    "sequential_s",
    "baseline",
    "speedup",
    "efficiency",
    "ideal_makespan_s",
    "measured_over_ideal",
    "mean_context_lag",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "model",
    "cost_usd",
    "hedges",
    "extra_calls",
    "rate_limited",
    "final_concurrency",
    # continuity (core.continuity), last: a CSV reader finds the older columns where they were
    "findings",
    "findings_per_10_scenes",
    *(f"findings_{kind}" for kind in KINDS),
    "findings_before_repair",
    "repair_calls",
    # streamed answers (pipelined, or streaming turned on), after the continuity columns
    "time_to_summary_s",
    "runaways",
)


def scene_frame(
    timings: Iterable[SceneTiming],
    config: str = "",
    strategy: str = "",
    outline: tuple[float, float] | None = None,
    bible: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """One row a scene call, in index order (a repair pass's calls are kind "repair", after
    the scene's first), and one for the outline or story bible call (kind "outline" or
    "bible", scene 0) first.

    ``wait_s`` is how long a finished scene's slot idles until its batch's straggler ends:
    only batched runs have that barrier, so it is 0 for every other strategy.
    """
    rows = [
        {
            "config": config,
            "strategy": strategy,
            "kind": "repair" if t.repair else "scene",
            "scene": t.index,
            "batch": t.group,
            "start_s": t.start_s,
            "end_s": t.end_s,
            "call_s": t.end_s - t.start_s,
            "service_s": t.service_s,
            "wait_s": 0.0,
            "attempts": t.attempts,
            "context_lag": t.context_lag,
            "context_size": t.context_size,
            "had_outline": t.had_outline,
            "prompt_tokens": t.prompt_tokens,
            "completion_tokens": t.completion_tokens,
            "hedged": t.hedged,
            # a hedged scene's backup ran from here to ``end_s``, when one of the two answered
            "hedge_start_s": math.nan if t.hedge_start_s is None else t.hedge_start_s,
            "hedge_won": t.hedge_won,
            "first_token_s": _or_nan(t.first_token_s),
            "summary_s": _or_nan(t.summary_s),
            "time_to_summary_s": _or_nan(time_to_summary(t)),
            "runaways": t.runaways,
        }
        for t in sorted(timings, key=lambda t: t.index)
    ]
    plan = {"bible": bible, "outline": outline}
    rows[:0] = [
        {
            **dict.fromkeys(SCENE_COLUMNS, 0),
            "config": config,
            "strategy": strategy,
            "kind": kind,
            "start_s": span[0],
            "end_s": span[1],
            "call_s": span[1] - span[0],
            "service_s": span[1] - span[0],
            "had_outline": False,
            "hedged": False,
            "hedge_start_s": math.nan,
            "hedge_won": False,
            "first_token_s": math.nan,
            "summary_s": math.nan,
            "time_to_summary_s": math.nan,
        }
        for kind, span in plan.items()
        if span is not None
    ]
    df = pd.DataFrame(rows, columns=list(SCENE_COLUMNS))
    if strategy == "batched" and not df.empty:
        scenes = df["kind"] == "scene"
        batch_end = df[scenes].groupby("batch")["end_s"].transform("max")
        df.loc[scenes, "wait_s"] = batch_end - df.loc[scenes, "end_s"]
    return df


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def time_to_summary(timing: SceneTiming) -> float | None:
    """The first call to the summary parsed from the stream; none if not streamed."""
    return timing.time_to_summary_s


def mean_time_to_summary(script: Script) -> float:
    """Over the scenes as first written that streamed; NaN when none did."""
    mean = script.meta.mean_time_to_summary_s
    return math.nan if mean is None else mean


def _span(start: float | None, end: float | None) -> tuple[float, float] | None:
    return None if start is None or end is None else (start, end)


def scenes_of(scripts: Sequence[Script], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Every scene of every run, labelled by configuration, for the timeline chart."""
    labels = list(labels) if labels is not None else labels_for(scripts)
    frames = [
        scene_frame(
            s.meta.timeline,
            label,
            s.request.strategy,
            _span(s.meta.outline_start_s, s.meta.outline_end_s),
            _span(s.meta.bible_start_s, s.meta.bible_end_s),
        )
        for s, label in zip(scripts, labels, strict=True)
    ]
    if not frames:
        return pd.DataFrame(columns=list(SCENE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def concurrency_frame(
    scripts: Sequence[Script], labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """The calls an adaptive run allowed in flight over time, one row a change, and a last
    row at the run's end so that the line reaches it. Runs of a fixed size are left out."""
    labels = list(labels) if labels is not None else labels_for(scripts)
    rows: list[dict[str, object]] = []
    for script, label in zip(scripts, labels, strict=True):
        trace = script.meta.concurrency_trace  # empty unless the run was adaptive
        if not trace:
            continue
        ends = [t.end_s for t in script.meta.timeline]
        end = max([trace[-1][0], *ends])
        points = [*trace, (end, trace[-1][1])] if end > trace[-1][0] else list(trace)
        strategy = script.request.strategy
        rows += [
            {"config": label, "strategy": strategy, "time_s": t, "limit": limit}
            for t, limit in points
        ]
    return pd.DataFrame(rows, columns=list(CONCURRENCY_COLUMNS))


def batch_frame(scenes: pd.DataFrame) -> pd.DataFrame:
    """Per batch: first start to last end, its median call and the wait for its straggler.

    Sequential runs have no batches and are left out.
    """
    df = scenes[(scenes["kind"] == "scene") & (scenes["strategy"] != "sequential")]
    columns = [
        "config",
        "strategy",
        "batch",
        "scenes",
        "start_s",
        "end_s",
        "batch_time_s",
        "median_call_s",
        "slowest_call_s",
        "straggler_wait_s",
    ]
    if df.empty:
        return pd.DataFrame(columns=columns)
    grouped = df.groupby(["config", "batch"], sort=False)
    out = grouped.agg(
        strategy=("strategy", "first"),
        scenes=("scene", "count"),
        start_s=("start_s", "min"),
        end_s=("end_s", "max"),
        median_call_s=("call_s", "median"),
        slowest_call_s=("call_s", "max"),
    ).reset_index()
    out["batch_time_s"] = out["end_s"] - out["start_s"]
    out["straggler_wait_s"] = (out["batch_time_s"] - out["median_call_s"]).clip(lower=0.0)
    return out[columns]


def sequential_estimate(script: Script) -> float:
    """What writing these very calls one after another would take: the sum of call times."""
    return math.fsum(t.service_s for t in script.meta.timeline)


def _same_work(a: Script, b: Script) -> bool:
    """Same request apart from the scheduling, so one run is a fair baseline for the other."""
    neutral = {
        "strategy": "sequential",
        "concurrency": 1,
        "lag_allowance": None,
        "hedge": None,
        "adaptive": None,
    }
    return a.request.model_copy(update=neutral) == b.request.model_copy(update=neutral)


def measured_baseline(
    scripts: Sequence[Script], settings: Sequence[dict[str, object]] | None = None
) -> Script | None:
    """A sequential run of the same request as every other run, if the selection has one.

    With the runs' backend ``settings``, they must match too: a time scale of 1 against one
    of 0.01 is no baseline.
    """
    seq = next((s for s in scripts if s.request.strategy == "sequential"), None)
    if seq is None or not all(_same_work(seq, s) for s in scripts):
        return None
    if settings is not None and any(s != settings[0] for s in settings):
        return None
    return seq


def summary_frame(
    scripts: Sequence[Script],
    labels: Sequence[str] | None = None,
    *,
    baseline: Baseline = "measured",
) -> pd.DataFrame:
    """One row a configuration: the numbers a user weighs against each other.

    ``baseline="measured"`` divides by the wall time of the sequential run in ``scripts``
    (same request, same simulated latencies); ``"estimated"`` divides each run's own sum of
    call times by its wall time, as one does with a paid API. Unknown prices stay NaN.
    """
    labels = list(labels) if labels is not None else labels_for(scripts)
    seq: Script | None = None
    if baseline == "measured":
        seq = measured_baseline(scripts)
        if seq is None:
            raise ValueError(
                "a measured baseline needs a sequential run of the same request; "
                "use baseline='estimated'"
            )
    rows = []
    for script, label in zip(scripts, labels, strict=True):
        meta, req = script.meta, script.request
        wall = meta.wall_time_s
        sequential = seq.meta.wall_time_s if seq is not None else sequential_estimate(script)
        speedup = sequential / wall if wall > 0 else math.nan
        ideal = ideal_of(script) if meta.timeline else math.nan
        cost = estimate_cost(meta.model, meta.prompt_tokens, meta.completion_tokens)
        rows.append(
            {
                "config": label,
                "strategy": req.strategy,
                "concurrency": meta.concurrency,
                "scenes": len(script.scenes),
                "wall_time_s": wall,
                "sequential_s": sequential,
                "baseline": baseline,
                "speedup": speedup,
                "efficiency": speedup / meta.concurrency,
                "ideal_makespan_s": ideal,
                "measured_over_ideal": wall / ideal if ideal and ideal > 0 else math.nan,
                "mean_context_lag": mean_lag(script) if meta.timeline else math.nan,
                "prompt_tokens": meta.prompt_tokens,
                "completion_tokens": meta.completion_tokens,
                "total_tokens": meta.prompt_tokens + meta.completion_tokens,
                "model": meta.model,
                "cost_usd": math.nan if cost is None else cost,
                "hedges": meta.hedges,
                # backup calls as a share of all calls (hedged runs only)
                "extra_calls": meta.extra_calls,
                "rate_limited": meta.rate_limited,
                "final_concurrency": meta.final_concurrency,
                **_continuity(script),
                "time_to_summary_s": mean_time_to_summary(script),
                "runaways": meta.runaways,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _continuity(script: Script) -> dict[str, float]:
    """A script's findings: in all, per 10 scenes, by kind; before repair (NaN without one)."""
    found = findings_of(script)
    before = script.meta.findings_before
    return {
        "findings": len(found),
        "findings_per_10_scenes": 10 * len(found) / len(script.scenes)
        if script.scenes
        else math.nan,
        **{f"findings_{kind}": n for kind, n in counts(found).items()},
        "findings_before_repair": math.nan if before is None else sum(before.values()),
        "repair_calls": script.meta.repair_calls,
    }
