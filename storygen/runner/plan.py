"""The one plan of a comparison: which configurations run, as which requests, and whether
their speedups are measured against a sequential run or estimated.

The Compare page, ``compare()``/``sweep()`` and the benchmark all plan here, so a lane is
called the same, sized the same and measured the same wherever it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

from storygen.backends.config import BackendConfig
from storygen.core.errors import InvalidRequestError
from storygen.core.labels import Baseline
from storygen.core.models import (
    AdaptiveSettings,
    HedgeSettings,
    Script,
    ScriptRequest,
    StrategyName,
)

DEFAULT_BATCH_SIZES = (3, 5, 10)
ADAPTIVE: Literal["adaptive"] = "adaptive"  # a size in a comparison plan: found at run time
DEFAULT_ADAPTIVE_MAX = 20


class Tuning(NamedTuple):
    """What a plan entry adds to its (strategy, size): backup calls, a size found at run time
    (the size is then its maximum), or both."""

    hedge: bool = False
    adaptive: bool = False

    def overrides(self, base: ScriptRequest) -> dict[str, Any]:
        """The fields it turns on; the base request's own settings, if any, are kept."""
        changes: dict[str, Any] = {}
        if self.hedge:
            changes["hedge"] = base.hedge or HedgeSettings()
        if self.adaptive:
            changes["adaptive"] = base.adaptive or AdaptiveSettings()
        return changes


Size = int | Literal["adaptive"]
# (strategy, size) as before; a third item when the lane hedges or adapts its concurrency
PlanEntry = tuple[StrategyName, int] | tuple[StrategyName, int, Tuning]


def comparison_plan(
    batch_sizes: Iterable[Size] = DEFAULT_BATCH_SIZES,
    windows: Iterable[Size] = (),
    outline_windows: Iterable[Size] = (),
    pipelined: Iterable[Size] = (),
    *,
    sequential: bool = True,
    hedged: bool = False,
    adaptive_max: int = DEFAULT_ADAPTIVE_MAX,
) -> list[PlanEntry]:
    """Sequential first (the baseline), then each strategy's sizes (batched, windowed,
    outline, pipelined), ascending, once each.

    ``"adaptive"`` among a strategy's sizes adds a lane whose concurrency is found at run
    time, up to ``adaptive_max``, after the fixed sizes. ``hedged`` follows every configuration
    but the sequential baseline with the same one hedged ("batched(5)", "batched(5)+hedge"),
    so that both meet the same drawn latencies, hangs included.
    """
    plan: list[PlanEntry] = [("sequential", 1)] if sequential else []
    chosen: tuple[tuple[StrategyName, Iterable[Size]], ...] = (
        ("batched", batch_sizes),
        ("windowed", windows),
        ("outline", outline_windows),
        ("pipelined", pipelined),
    )
    for strategy, sizes in chosen:
        wanted = set(sizes)
        for size in sorted(s for s in wanted if s != ADAPTIVE):
            plan.append((strategy, int(size)))
            if hedged:
                plan.append((strategy, int(size), Tuning(hedge=True)))
        if ADAPTIVE in wanted:
            plan.append((strategy, adaptive_max, Tuning(adaptive=True)))
            if hedged:
                plan.append((strategy, adaptive_max, Tuning(hedge=True, adaptive=True)))
    return plan


def strategy_plan(
    strategies: Iterable[StrategyName], sizes: Iterable[int]
) -> list[tuple[StrategyName, int]]:
    """Sequential once (the baseline), then each strategy at each size, in the order given:
    the benchmark's rows follow its command line, where ``comparison_plan`` sorts."""
    plan: list[tuple[StrategyName, int]] = [("sequential", 1)]
    for name in strategies:
        if name != "sequential":
            plan += [(name, size) for size in sizes]
    return plan


def measures_sequential(config: BackendConfig, asked: bool | None = None) -> bool:
    """Simulated calls are free, so the sequential baseline is run; on a paid API it is
    estimated unless asked for."""
    return config.kind == "simulated" if asked is None else asked


def plan_requests(
    base: ScriptRequest, plan: Sequence[PlanEntry], measure_sequential: bool
) -> list[ScriptRequest]:
    """One request per configuration of ``plan``: the same work, scheduled differently."""
    if not measure_sequential:
        plan = [p for p in plan if p[0] != "sequential"]
    if not plan:
        raise InvalidRequestError("choose at least one configuration to compare", "plan")
    fields = base.model_dump()
    requests = []
    for entry in plan:
        tuning = entry[2] if len(entry) == 3 else Tuning()
        changes = {"strategy": entry[0], "concurrency": entry[1], **tuning.overrides(base)}
        requests.append(ScriptRequest.build(**{**fields, **changes}))
    return requests


def baseline_of(scripts: Iterable[Script], measured: bool) -> Baseline:
    """Measured when the sequential run was asked for and finished, estimated otherwise."""
    finished = {s.request.strategy for s in scripts}
    return "measured" if measured and "sequential" in finished else "estimated"
