"""Tail tolerance and self-tuning, in-process on the simulated backend.

python -m benchmarks.bench_tail [--seeds 3] [--time-scale 0.0125]

- Hangs: 2% of calls take 30x the median. batched(5) and windowed(10), hedging off and on,
  against the same configuration with no hangs (same seeds, same drawn latencies).
- No hangs: what hedging costs when nothing hangs.
- An RPM limit the client is not told about, 300 scenes: adaptive concurrency.
- A server with 8 slots (beyond them calls queue): adaptive against fixed windows.

Every number is a ratio or a share measured in the same run, averaged over the seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import OUT
from benchmarks.serve_sim import sim_config
from benchmarks.tables import print_table
from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.core.models import AdaptiveSettings, HedgeSettings, Script, StrategyName

IDEA = "A lighthouse keeper finds a map to a drowned city"
RPM = 60  # in the simulated minute (60 x time scale seconds)
CAPACITY = 8


def make_request(
    strategy: StrategyName, size: int, seed: int, scenes: int, hedge: bool, adaptive: bool
) -> ScriptRequest:
    return ScriptRequest(
        idea=IDEA,
        duration_s=8 * scenes,
        strategy=strategy,
        concurrency=50 if adaptive else size,
        seed=seed,
        hedge=HedgeSettings() if hedge else None,
        adaptive=AdaptiveSettings() if adaptive else None,
    )


def run(
    strategy: StrategyName,
    size: int,
    seed: int,
    scale: float,
    *,
    scenes: int = 75,
    hedge: bool = False,
    adaptive: bool = False,
    **backend: Any,
) -> tuple[Script, SimulatedBackend]:
    request = make_request(strategy, size, seed, scenes, hedge, adaptive)
    sim = SimulatedBackend(time_scale=scale, **backend)
    return generate(request, sim), sim


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def hangs(seeds: range, scale: float) -> list[dict[str, Any]]:
    rows = []
    for strategy, size in (("batched", 5), ("windowed", 10)):
        base, off, on, extra, quiet_on, quiet_extra = [], [], [], [], [], []
        for seed in seeds:
            calm, _ = run(strategy, size, seed, scale)  # type: ignore[arg-type]
            hung, _ = run(strategy, size, seed, scale, hang_rate=0.02)  # type: ignore[arg-type]
            saved, _ = run(strategy, size, seed, scale, hedge=True, hang_rate=0.02)  # type: ignore[arg-type]
            quiet, _ = run(strategy, size, seed, scale, hedge=True)  # type: ignore[arg-type]
            wall = calm.meta.wall_time_s
            base.append(wall)
            off.append(hung.meta.wall_time_s / wall)
            on.append(saved.meta.wall_time_s / wall)
            extra.append(saved.meta.hedges / 75)
            quiet_on.append(quiet.meta.wall_time_s / wall)
            quiet_extra.append(quiet.meta.hedges / 75)
        rows.append(
            {
                "configuration": f"{strategy}({size})",
                "no hangs, wall (s)": round(mean(base), 3),
                "hangs, no hedging (x)": round(mean(off), 2),
                "hangs, hedging (x)": round(mean(on), 2),
                "extra calls, hangs": f"{mean(extra):.1%}",
                "no hangs, hedging (x)": round(mean(quiet_on), 3),
                "extra calls, no hangs": f"{mean(quiet_extra):.1%}",
            }
        )
    return rows


def unknown_rpm(seeds: range, scale: float) -> list[dict[str, Any]]:
    rows = []
    allowed = RPM / (60 * scale)  # calls a second the provider lets through
    for strategy in ("windowed", "batched"):
        share, rejected, failed = [], [], 0
        for seed in seeds:
            try:
                script, sim = run(  # type: ignore[misc]
                    strategy,  # type: ignore[arg-type]
                    0,
                    seed,
                    scale,
                    scenes=300,
                    adaptive=True,
                    rpm=RPM,
                )
            except Exception:
                failed += 1
                continue
            share.append(300 / script.meta.wall_time_s / allowed)
            rejected.append(script.meta.rate_limited / sim.calls)
        rows.append(
            {
                "configuration": f"{strategy}(adaptive)",
                "throughput / the limit's": f"{mean(share):.0%}" if share else "n/a",
                "calls answered 429": f"{mean(rejected):.1%}" if rejected else "n/a",
                "failed runs": failed,
            }
        )
    return rows


def capacity(seeds: range, scale: float) -> list[dict[str, Any]]:
    def median_call(script: Script) -> float:
        return statistics.median(t.end_s - t.start_s for t in script.meta.timeline)

    rows = []
    fixed: dict[int, list[float]] = {}
    inflation: list[float] = []
    for seed in seeds:
        for window in (4, 6, 8, 10, 12, 16, 25):
            script, _ = run("windowed", window, seed, scale, scenes=300, capacity=CAPACITY)
            fixed.setdefault(window, []).append(300 / script.meta.wall_time_s)
            if window == 25:
                quiet, _ = run("windowed", 4, seed, scale, scenes=300, capacity=CAPACITY)
                inflation.append(median_call(script) / median_call(quiet))
    best_window = max(fixed, key=lambda w: mean(fixed[w]))
    best = mean(fixed[best_window])
    for strategy in ("windowed", "batched"):
        through, settled = [], []
        for seed in seeds:
            script, _ = run(strategy, 0, seed, scale, scenes=300, adaptive=True, capacity=CAPACITY)  # type: ignore[arg-type]
            through.append(300 / script.meta.wall_time_s)
            trace = [limit for _, limit in script.meta.concurrency_trace]
            settled.append(statistics.median(trace[len(trace) // 2 :]))
        rows.append(
            {
                "configuration": f"{strategy}(adaptive)",
                "settled in flight (median, 2nd half)": round(mean(settled), 1),
                "throughput / best fixed window's": f"{mean(through) / best:.0%}",
                "best fixed window": best_window,
                "windowed(25) call time / no-queue": f"{mean(inflation):.2f}x",
            }
        )
    return rows


def over_http(seeds: range, scale: float) -> list[dict[str, Any]]:
    """The hang and the unknown-RPM cases again, through the openai SDK to serve-sim."""
    from storygen.backends.openai_compat import OpenAIBackend
    from storygen.sim import RunningServer, SimServerConfig

    def http_run(
        strategy: StrategyName, size: int, seed: int, scenes: int, **sim: Any
    ) -> tuple[Script, RunningServer]:
        hedge = sim.pop("hedge", False)
        adaptive = sim.pop("adaptive", False)
        with RunningServer(SimServerConfig(time_scale=scale, **sim)) as server:
            config = sim_config(server.url)
            request = make_request(strategy, size, seed, scenes, hedge, adaptive)
            return generate(request, OpenAIBackend(config)), server

    rows: list[dict[str, Any]] = []
    for strategy, size in (("batched", 5), ("windowed", 10)):
        off: list[float] = []
        on: list[float] = []
        cancelled: list[float] = []
        for seed in seeds:
            calm, _ = http_run(strategy, size, seed, 75)  # type: ignore[arg-type]
            hung, _ = http_run(strategy, size, seed, 75, hang_rate=0.02)  # type: ignore[arg-type]
            saved, server = http_run(strategy, size, seed, 75, hang_rate=0.02, hedge=True)  # type: ignore[arg-type]
            off.append(hung.meta.wall_time_s / calm.meta.wall_time_s)
            on.append(saved.meta.wall_time_s / calm.meta.wall_time_s)
            cancelled.append(server.state.cancelled)
        rows.append(
            {
                "case (HTTP)": f"hangs, {strategy}({size})",
                "no hedging (x)": round(mean(off), 2),
                "hedging (x)": round(mean(on), 2),
                "requests cancelled at the server (mean)": round(mean(cancelled), 1),
            }
        )
    allowed = RPM / (60 * scale)
    for strategy in ("windowed", "batched"):
        share, rejected = [], []
        for seed in seeds:
            script, server = http_run(strategy, 0, seed, 300, rpm=RPM, adaptive=True)  # type: ignore[arg-type]
            share.append(300 / script.meta.wall_time_s / allowed)
            rejected.append(server.state.rejected_429 / len(server.state.requests))
        rows.append(
            {
                "case (HTTP)": f"unknown RPM, {strategy}(adaptive)",
                "no hedging (x)": "",
                "hedging (x)": "",
                "requests cancelled at the server (mean)": "",
                "throughput / the limit's": f"{mean(share):.0%}",
                "calls answered 429": f"{mean(rejected):.1%}",
            }
        )
    return rows


def show(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.0125)
    parser.add_argument("--only", choices=["hangs", "rpm", "capacity", "http"], default=None)
    args = parser.parse_args()
    seeds = range(args.seeds)
    parts: dict[str, Callable[[range, float], list[dict[str, Any]]]] = {
        "hangs": hangs,
        "rpm": unknown_rpm,
        "capacity": capacity,
        "http": over_http,
    }
    results = {}
    for name, part in parts.items():
        if args.only in (None, name):
            results[name] = part(seeds, args.time_scale)
            show(name, results[name])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tail.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
