"""Ideal speedups over many seeds: the schedules themselves, with no engine and no waiting.

    python -m benchmarks.bench_ideal [--seeds 40]

Each strategy's zero-overhead makespan for the drawn latencies of 75 scenes (sigma 0.35),
so a single unlucky seed in the timed benchmark can be told from the strategy's average.
"""

from __future__ import annotations

import argparse
import statistics

from storygen.backends.simulated import draw_latency
from storygen.scheduling.scheduler import ideal_makespan
from storygen.scheduling.strategies import Batched, OutlineFirst, Strategy, Windowed

CONFIGS: dict[str, Strategy] = {
    "batched(5)": Batched(5),
    "batched(10)": Batched(10),
    "windowed(5, A=10)": Windowed(5, 10),
    "windowed(10, A=20)": Windowed(10, 20),
    "outline(25)": OutlineFirst(25),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    speedups: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for seed in range(args.seeds):
        service = {k: draw_latency(seed, f"scene{k}", 1) for k in range(1, 76)}
        sequential = sum(service.values())
        outline = draw_latency(seed, "outline", 1)
        for name, strategy in CONFIGS.items():
            plan = outline if strategy.needs_outline else 0.0
            speedups[name].append(sequential / ideal_makespan(strategy, service, plan))
    print(f"{'configuration':<20} {'mean':>6} {'min':>6} {'max':>6}  ({args.seeds} seeds)")
    for name, values in speedups.items():
        print(f"{name:<20} {statistics.fmean(values):6.2f} {min(values):6.2f} {max(values):6.2f}")


if __name__ == "__main__":
    main()
