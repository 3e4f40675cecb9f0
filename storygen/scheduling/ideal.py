"""A finished run measured against its strategy's ideal: the zero-overhead schedule of the
call times it met, and how much each scene did not know when it started."""

from __future__ import annotations

import heapq
import math
import statistics

from storygen.core.models import SceneTiming, Script
from storygen.scheduling.scheduler import ideal_makespan
from storygen.scheduling.strategies import strategy_for


def ideal_of(script: Script) -> float:
    """The strategy's zero-overhead schedule for the call times this run met (NaN for an
    adaptive run: its limits were chosen as it went, so there is no fixed rule to replay):
    the story bible's call first, then the scenes, then the repair calls, as many at once
    as the strategy's concurrency allows."""
    meta = script.meta
    if script.request.adaptive is not None:
        return math.nan
    outline_s = (meta.outline_end_s or 0.0) - (meta.outline_start_s or 0.0)
    bible_s = (meta.bible_end_s or 0.0) - (meta.bible_start_s or 0.0)
    scenes = [t for t in meta.timeline if not t.repair]
    repairs = [t.service_s for t in meta.timeline if t.repair]
    service = {t.index: t.service_s for t in scenes}
    rule = strategy_for(script.request)
    written = ideal_makespan(rule, service, outline_s, summary_after=_summary_after(scenes))
    return bible_s + written + _in_slots(repairs, rule.concurrency)


def _summary_after(scenes: list[SceneTiming]) -> dict[int, float]:
    """Each scene's time to summary, for the scenes whose summary was known early."""
    return {t.index: s for t in scenes if (s := t.time_to_summary_s) is not None}


def _in_slots(calls: list[float], slots: int) -> float:
    """Calls started in order, each as soon as one of ``slots`` is free: when the last ends."""
    ends = [0.0] * max(1, slots)
    for seconds in calls:
        start = heapq.heappop(ends)
        heapq.heappush(ends, start + seconds)
    return max(ends) if calls else 0.0


def mean_lag(script: Script) -> float:
    """Over the scenes as first written (a repair call sees every other scene)."""
    return statistics.fmean(t.context_lag for t in script.meta.timeline if not t.repair)
