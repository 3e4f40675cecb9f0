"""Pipelined scenes against the other strategies: speed and context lag, in-process and over
HTTP (openai SDK -> serve-sim streaming), and the cost of runaway answers.

    python -m benchmarks.bench_pipelined [--seeds 3] [--time-scale 0.0125] [--skip-http]

Every lane of one seed meets the same drawn latencies; speedups are ratios to that seed's
sequential run, measured in the same process run. 75 scenes, sigma 0.35.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from benchmarks import OUT
from benchmarks.serve_sim import running_serve_sim, sim_config
from storygen import ScriptRequest, generate
from storygen.backends.openai_compat import OpenAIBackend
from storygen.backends.simulated import SimulatedBackend
from storygen.core.models import Script, StrategyName
from storygen.core.tasks import Backend
from storygen.policies.retry import RetryPolicy
from storygen.scheduling.ideal import ideal_of, mean_lag

LANES: tuple[tuple[StrategyName, int], ...] = (
    ("sequential", 1),
    ("batched", 5),
    ("windowed", 5),
    ("windowed", 10),
    ("pipelined", 5),
    ("pipelined", 10),
)
HTTP_LANES: tuple[tuple[StrategyName, int], ...] = (
    ("sequential", 1),
    ("windowed", 5),
    ("pipelined", 10),
)
IDEA = "A lighthouse keeper finds a map to a drowned city"


def _run(name: StrategyName, size: int, seed: int, backend: Backend, scale: float) -> Script:
    request = ScriptRequest(idea=IDEA, duration_s=600, strategy=name, concurrency=size, seed=seed)
    return generate(request, backend, policy=RetryPolicy().scaled(scale))


def _lanes(
    lanes: tuple[tuple[StrategyName, int], ...],
    seeds: int,
    scale: float,
    make: Callable[[], Backend],
) -> dict[str, dict[str, float]]:
    walls: dict[str, list[float]] = {}
    rows: dict[str, dict[str, list[float]]] = {}
    for seed in range(seeds):
        baseline = 0.0
        for name, size in lanes:
            script = _run(name, size, seed, make(), scale)
            label = name if name == "sequential" else f"{name}({size})"
            wall = script.meta.wall_time_s
            baseline = wall if name == "sequential" else baseline
            row = rows.setdefault(label, {"speedup": [], "lag": [], "ideal": [], "runaways": []})
            row["speedup"].append(baseline / wall)
            row["lag"].append(mean_lag(script))
            row["ideal"].append(wall / ideal_of(script))
            row["runaways"].append(script.meta.runaways)
            walls.setdefault(label, []).append(wall)
    return {
        label: {k: statistics.fmean(v) for k, v in row.items()}
        | {"wall_s": statistics.fmean(walls[label])}
        for label, row in rows.items()
    }


def _print(title: str, table: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'lane':<16}{'wall s':>8}{'speedup':>9}{'mean lag':>10}{'meas/ideal':>12}")
    for label, r in table.items():
        print(
            f"{label:<16}{r['wall_s']:>8.2f}{r['speedup']:>8.2f}x{r['lag']:>10.2f}"
            f"{r['ideal']:>12.3f}"
        )


def _http_backend(url: str) -> Callable[[], Backend]:
    config = sim_config(url)
    return lambda: OpenAIBackend(config)


def _runaway(seeds: int, scale: float) -> dict[str, float]:
    """The same pipelined(10) run over HTTP without and with 5% of calls looping."""
    out: dict[str, list[float]] = {"clean_s": [], "faulty_s": [], "runaways": []}
    for rate, key in ((0.0, "clean_s"), (0.05, "faulty_s")):
        with running_serve_sim(scale, "--runaway-rate", str(rate)) as url:
            for seed in range(seeds):
                script = _run("pipelined", 10, seed, _http_backend(url)(), scale)
                out[key].append(script.meta.wall_time_s)
                if rate:
                    out["runaways"].append(script.meta.runaways)
    clean, faulty = statistics.fmean(out["clean_s"]), statistics.fmean(out["faulty_s"])
    return {
        "clean_s": clean,
        "faulty_s": faulty,
        "ratio": faulty / clean,
        "runaways": statistics.fmean(out["runaways"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.0125)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    scale = args.time_scale
    started = time.perf_counter()
    results: dict[str, object] = {}
    sim = _lanes(LANES, args.seeds, scale, lambda: SimulatedBackend(time_scale=scale))
    _print(f"in-process, {args.seeds} seeds, 75 scenes, time scale {scale}", sim)
    results["in_process"] = sim
    if not args.skip_http:
        with running_serve_sim(scale) as url:
            http = _lanes(HTTP_LANES, args.seeds, scale, _http_backend(url))
        _print("over HTTP (openai SDK -> serve-sim, streaming)", http)
        for label, r in http.items():
            r["vs_in_process"] = r["speedup"] / sim[label]["speedup"]
            print(f"  {label}: HTTP speedup / in-process speedup = {r['vs_in_process']:.3f}")
        results["http"] = http
        runaway = _runaway(args.seeds, scale)
        print(
            f"\nrunaway answers (5% of calls loop whitespace), pipelined(10) over HTTP: "
            f"{runaway['faulty_s']:.2f} s vs {runaway['clean_s']:.2f} s clean = "
            f"{runaway['ratio']:.2f}x, {runaway['runaways']:.1f} runaways cut a run"
        )
        results["runaway"] = runaway
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pipelined.json").write_text(json.dumps(results, indent=2))
    print(f"\n({time.perf_counter() - started:.0f} s; {OUT / 'pipelined.json'})")


if __name__ == "__main__":
    main()
