"""Ideal speedups over many seeds: the schedules themselves, with no engine and no waiting.

    python -m benchmarks.bench_ideal [--seeds 40]

Each strategy's zero-overhead makespan for the drawn latencies of 75 scenes (sigma 0.35),
so a single unlucky seed in the timed benchmark can be told from the strategy's average.
Pipelined rules also need each scene's time to summary: its drawn time to first token,
then the share of the answer's text up to the end of the summary, at an even rate. That
share is about 16% for the simulated LLM's short answers (~140 tokens), and about 8.5%
for a real model's (a ~25-token summary of a ~290-token scene).
"""

from __future__ import annotations

import argparse
import statistics

from storygen.backends.simulated import draw_latency, first_token_share
from storygen.scheduling.scheduler import ideal_makespan
from storygen.scheduling.strategies import Batched, OutlineFirst, Pipelined, Strategy, Windowed

CONFIGS: dict[str, Strategy] = {
    "batched(5)": Batched(5),
    "batched(10)": Batched(10),
    "windowed(5, A=10)": Windowed(5, 10),
    "windowed(10, A=20)": Windowed(10, 20),
    "outline(25)": OutlineFirst(25),
}
# pipelined(10), by the share of the answer's text the summary ends at
PIPELINED = {
    "pipelined(10), summary at 16% of the text (simulated answers)": 0.16,
    "pipelined(10), summary at 8.5% of the text (a real model's)": 0.085,
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
        for name, text in PIPELINED.items():
            first = {k: first_token_share(seed, f"scene{k}", 1) for k in service}
            after = {k: s * (first[k] + (1 - first[k]) * text) for k, s in service.items()}
            piped = ideal_makespan(Pipelined(10), service, summary_after=after)
            speedups.setdefault(name, []).append(sequential / piped)
    width = max(map(len, speedups))
    print(f"{'configuration':<{width}} {'mean':>6} {'min':>6} {'max':>6}  ({args.seeds} seeds)")
    for name, values in speedups.items():
        low, high = min(values), max(values)
        print(f"{name:<{width}} {statistics.fmean(values):6.2f} {low:6.2f} {high:6.2f}")


if __name__ == "__main__":
    main()
