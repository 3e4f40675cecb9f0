"""What other visitors of a shared dashboard do to the numbers one visitor's Compare shows.

    python -m benchmarks.bench_shared_load [--seeds 3] [--time-scale 0.01] [--visitors 1,4]
                                           [--busy-cores 0,2,6]

Each visitor runs the Compare page's default job (sequential and batches of 3, 5 and 10, 75
scenes, the app's demo time scale) through the app's own child processes
(``jobs.worker.start_comparison``), all at once; the first visitor's comparison is measured.
Every lane draws the same latencies alone or not, so what changes is the machine's load:
the sequential lane's wall time, the speedups, measured ÷ ideal, and whether the page's busy
warning (``analysis.display.busy_note``, above 1.10) said so. ``--busy-cores`` keeps cores
busy meanwhile, as the app server drawing every visitor's page does. Ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import OUT
from benchmarks.tables import print_table
from storygen.analysis import frames
from storygen.analysis.display import busy_note
from storygen.backends.config import BackendConfig
from storygen.core.models import ScriptRequest
from storygen.jobs.worker import Job, start_comparison
from storygen.runner import plan as planning
from storygen.store import RunStore

SIZES = [3, 5, 10]  # the Compare page's default batch sizes
IDEA = "A lighthouse keeper finds a map to a drowned city"


def _compare(seed: int, scale: float, store: RunStore) -> Job:
    request = ScriptRequest(idea=IDEA, duration_s=600, seed=seed)
    plan = planning.comparison_plan(SIZES, [], [], [], hedged=False)
    config = BackendConfig.build_config(kind="simulated", time_scale=scale)
    return start_comparison(request, plan, config, store=store)


def _burn(stop: Any) -> None:
    """One core kept busy, as the app server drawing visitors' pages keeps it."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def measure(seed: int, scale: float, visitors: int, burners: int) -> dict[str, Any]:
    """The first of ``visitors`` comparisons started together, as its page would show it,
    with ``burners`` cores kept busy meanwhile."""
    stop = multiprocessing.Event()
    busy = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(burners)]
    for process in busy:
        process.start()
    try:
        with tempfile.TemporaryDirectory() as root:
            jobs = [_compare(seed, scale, RunStore(Path(root) / str(v))) for v in range(visitors)]
            for job in jobs:
                job.wait(600)
            scripts = jobs[0].scripts()
    finally:
        stop.set()
        for process in busy:
            process.join()
    summary = frames.summary_frame(scripts)
    by = summary.set_index("config")
    row: dict[str, Any] = {
        "visitors": visitors,
        "busy cores": burners,
        "seed": seed,
        "sequential (s)": round(float(by.loc["sequential", "wall_time_s"]), 2),
    }
    for size in SIZES:
        row[f"batched({size})"] = f"{float(by.loc[f'batched({size})', 'speedup']):.2f}x"
    row["max measured ÷ ideal"] = round(float(summary["measured_over_ideal"].max()), 3)
    row["busy warning"] = "yes" if busy_note(summary) else "no"
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--visitors", default="1,4")
    parser.add_argument("--busy-cores", default="0,2,6", help="cores kept busy, as pages drawn")
    args = parser.parse_args()
    counts = [int(v) for v in args.visitors.split(",")]
    burners = [int(b) for b in args.busy_cores.split(",")]
    rows = [
        measure(seed, args.time_scale, n, b)
        for seed in range(args.seeds)
        for n in counts
        for b in burners
        if n > 1 or b == 0  # alone means alone
    ]
    print_table(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "shared_load.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
