"""A compute-bound server: its slots share one compute, so more calls in flight barely
make it faster (llama.cpp on a laptop CPU), over HTTP.

python -m benchmarks.bench_compute_bound [--seeds 3] [--time-scale 0.0125] [--scenes 75]

serve-sim with 8 slots and a compute gain of 1.5 (with n calls in service it runs
min(n, 1.5) times one call's solo speed, shared), the openai SDK as the client, windowed
runs. Fixed concurrency 1, 2, 4 and 8 against adaptive: throughput in scenes a second,
adaptive against the best fixed one, where adaptive settled and the plateau it reports.
Then hedging on: backup calls as a share of all scene calls. Every ratio is measured in
the same run of this bench, averaged over the seeds.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.serve_sim import sim_config
from benchmarks.tables import seeded_main
from storygen import ScriptRequest, generate
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.models import AdaptiveSettings, HedgeSettings, Script
from storygen.sim import RunningServer, SimServerConfig

IDEA = "A lighthouse keeper finds a map to a drowned city"
CAPACITY = 8
GAIN = 1.5
FIXED = (1, 2, 4, 8)
MOST = 32  # adaptive: up to this many in flight


def one_run(
    size: int | None, seed: int, scale: float, scenes: int, hedge: bool = False
) -> tuple[Script, RunningServer]:
    """A windowed run: ``size`` calls in flight, or adaptive up to MOST when None."""
    config = SimServerConfig(
        time_scale=scale, capacity=CAPACITY, compute_bound=True, compute_gain=GAIN
    )
    with RunningServer(config) as server:
        backend = OpenAIBackend(sim_config(server.url))
        request = ScriptRequest(
            idea=IDEA,
            duration_s=8 * scenes,
            strategy="windowed",
            concurrency=MOST if size is None else size,
            seed=seed,
            hedge=HedgeSettings() if hedge else None,
            adaptive=AdaptiveSettings() if size is None else None,
        )
        return generate(request, backend), server


def settled(script: Script) -> float:
    """The limit over the second half of the run (time-weighted median of its changes)."""
    trace = [limit for _, limit in script.meta.concurrency_trace]
    return float(statistics.median(trace[len(trace) // 2 :])) if trace else 0.0


def table(seeds: range, scale: float, scenes: int) -> list[dict[str, Any]]:
    speed: dict[str, list[float]] = {}
    where: list[float] = []
    plateaus: list[str] = []
    extra: dict[str, list[float]] = {}
    for seed in seeds:
        for size in (*FIXED, None):
            name = "adaptive" if size is None else f"windowed({size})"
            script, _ = one_run(size, seed, scale, scenes)
            speed.setdefault(name, []).append(scenes / script.meta.wall_time_s)
            if size is None:
                where.append(settled(script))
                plateaus.append(str(script.meta.plateau))
        for size in (8, None):
            name = "adaptive" if size is None else f"windowed({size})"
            script, _ = one_run(size, seed, scale, scenes, hedge=True)
            extra.setdefault(name, []).append(script.meta.extra_calls)
    mean = {name: statistics.fmean(values) for name, values in speed.items()}
    best = max((n for n in mean if n != "adaptive"), key=lambda n: mean[n])
    rows: list[dict[str, Any]] = []
    for name, value in mean.items():
        row: dict[str, Any] = {
            "configuration (HTTP)": name,
            "scenes/s": round(value, 2),
            "÷ best fixed": f"{value / mean[best]:.2f}",
        }
        if name == "adaptive":
            row["settled in flight (2nd half)"] = round(statistics.fmean(where), 1)
            row["plateau reported (per seed)"] = ", ".join(plateaus)
        if name in extra:
            row["extra calls with hedging"] = f"{statistics.fmean(extra[name]):.1%}"
        rows.append(row)
    return rows


if __name__ == "__main__":
    seeded_main(table, "compute_bound", scenes=75)
