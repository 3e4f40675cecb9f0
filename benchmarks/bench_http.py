"""The real HTTP path (openai SDK -> serve-sim in another process) against the in-process
simulated backend, on the same request and the same drawn latencies.

    python -m benchmarks.bench_http [--repeat 2] [--time-scale 0.0125]

Prints both tables, the speedup difference per configuration, and the overhead HTTP adds
to one call (mean measured call time minus the in-process drawn latency).
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from benchmarks import OUT
from benchmarks.serve_sim import running_serve_sim, sim_config
from storygen import ScriptRequest
from storygen.backends.openai_compat import OpenAIBackend
from storygen.runner.bench import run_bench


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=0.0125)
    args = parser.parse_args()
    base = ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)
    plan: dict[str, Any] = dict(strategies=("batched", "windowed", "outline"), sizes=(5, 10, 25))
    service: dict[str, list[float]] = {"sim": [], "http": []}

    def keep(kind: str):  # type: ignore[no-untyped-def]
        def on_result(name: str, size: int, r: int, script) -> None:  # type: ignore[no-untyped-def]
            service[kind] += [t.service_s for t in script.meta.timeline]

        return on_result

    sim = run_bench(
        base, **plan, time_scale=args.time_scale, repeat=args.repeat, on_result=keep("sim")
    )
    with running_serve_sim(args.time_scale) as url:
        config = sim_config(url)
        http = run_bench(
            base, **plan, time_scale=args.time_scale, repeat=args.repeat,
            on_result=keep("http"), make_backend=lambda: OpenAIBackend(config),
        )  # fmt: skip
    rows = []
    for a, b in zip(sim, http, strict=True):
        rows.append(
            {
                "strategy": a.strategy,
                "concurrency": a.concurrency,
                "speedup_in_process": a.speedup,
                "speedup_http": b.speedup,
                "difference_pct": round(100 * (b.speedup - a.speedup) / a.speedup, 1),
                "wall_in_process_s": a.wall_time_s,
                "wall_http_s": b.wall_time_s,
            }
        )
    overhead_ms = 1000 * (statistics.fmean(service["http"]) - statistics.fmean(service["sim"]))
    header = list(rows[0])
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))
    mean_call_ms = 1000 * statistics.fmean(service["sim"])
    print(f"HTTP overhead per call: {overhead_ms:.1f} ms (mean call {mean_call_ms:.0f} ms)")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"http_ts{args.time_scale:g}.json").write_text(
        json.dumps({"rows": rows, "overhead_ms_per_call": round(overhead_ms, 2)}, indent=2)
    )


if __name__ == "__main__":
    main()
