"""Every strategy on the same request and the same drawn latencies, side by side."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from storygen.backends.simulated import SimulatedBackend
from storygen.core.models import Script, ScriptRequest, StrategyName
from storygen.core.tasks import Backend
from storygen.policies.retry import RetryPolicy
from storygen.runner.plan import DEFAULT_BATCH_SIZES, strategy_plan
from storygen.runner.runs import generate
from storygen.scheduling.ideal import ideal_of, mean_lag


@dataclass(frozen=True)
class BenchRow:
    strategy: str
    concurrency: int
    scenes: int
    wall_time_s: float
    speedup: float
    efficiency: float
    mean_context_lag: float
    prompt_tokens: int
    ideal_makespan_s: float
    overhead_ratio: float  # measured / ideal: the engine's own cost
    repeats: int


def run_bench(
    base: ScriptRequest,
    strategies: Iterable[StrategyName] = ("batched", "windowed", "outline"),
    sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    *,
    time_scale: float = 0.0125,
    repeat: int = 1,
    on_result: Callable[[str, int, int, Script], None] | None = None,
    make_backend: Callable[[], Backend] | None = None,
) -> list[BenchRow]:
    """Repeat r uses seed+r: within a repeat every configuration meets the same latencies."""
    if make_backend is None:
        make_backend = lambda: SimulatedBackend(time_scale=time_scale)  # noqa: E731
    plan = strategy_plan(strategies, sizes)
    results: dict[tuple[StrategyName, int], list[tuple[Script, float]]] = {c: [] for c in plan}
    for r in range(repeat):
        baseline = 0.0
        for name, size in plan:
            request = base.model_copy(
                update={"strategy": name, "concurrency": size, "seed": base.seed + r}
            )
            script = generate(request, make_backend(), policy=RetryPolicy().scaled(time_scale))
            if name == "sequential":
                baseline = script.meta.wall_time_s
            results[(name, size)].append((script, baseline / script.meta.wall_time_s))
            if on_result:
                on_result(name, size, r, script)
    rows = []
    for (name, size), runs in results.items():
        scripts = [s for s, _ in runs]
        wall = statistics.fmean(s.meta.wall_time_s for s in scripts)
        speedup = statistics.fmean(x for _, x in runs)
        ideals = [ideal_of(s) for s in scripts]  # each is a full schedule simulation
        rows.append(
            BenchRow(
                strategy=name,
                concurrency=size,
                scenes=base.scene_count,
                wall_time_s=round(wall, 3),
                speedup=round(speedup, 2),
                efficiency=round(speedup / size, 2),
                mean_context_lag=round(statistics.fmean(mean_lag(s) for s in scripts), 2),
                prompt_tokens=round(statistics.fmean(s.meta.prompt_tokens for s in scripts)),
                ideal_makespan_s=round(statistics.fmean(ideals), 3),
                overhead_ratio=round(
                    statistics.fmean(
                        s.meta.wall_time_s / i for s, i in zip(scripts, ideals, strict=True)
                    ),
                    3,
                ),
                repeats=repeat,
            )
        )
    return rows


def rows_as_dicts(rows: Iterable[BenchRow]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]
