"""A finished run measured against its strategy's ideal: the zero-overhead schedule of the
call times it met, and how much each scene did not know when it started."""

from __future__ import annotations

import math
import statistics

from storygen.core.models import Script
from storygen.scheduling.scheduler import ideal_makespan
from storygen.scheduling.strategies import strategy_for


def ideal_of(script: Script) -> float:
    """The strategy's zero-overhead schedule for the call times this run met (NaN for an
    adaptive run: its limits were chosen as it went, so there is no fixed rule to replay)."""
    meta = script.meta
    if script.request.adaptive is not None:
        return math.nan
    outline_s = (meta.outline_end_s or 0.0) - (meta.outline_start_s or 0.0)
    service = {t.index: t.service_s for t in meta.timeline}
    return ideal_makespan(strategy_for(script.request), service, outline_s)


def mean_lag(script: Script) -> float:
    return statistics.fmean(t.context_lag for t in script.meta.timeline)
