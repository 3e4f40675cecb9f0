"""Bulk at scale: many scripts under one budget, live and through the Batch API.

    python -m benchmarks.bench_bulk                 # everything (about 2-3 minutes)
    python -m benchmarks.bench_bulk --only live     # throughput against the ideal
    python -m benchmarks.bench_bulk --only memory   # peak MB per 1,000 scenes by scripts
    python -m benchmarks.bench_bulk --only kill     # kill -9 mid-run, resume, count
    python -m benchmarks.bench_bulk --only batch    # serve-sim's Batch API: rounds, requests

Live: 200 scripts x 75 scenes on the simulated backend, 0.1 s median calls, 200 calls in
flight. The ideal throughput is in-flight / median call (2,000 calls a second); calls
include outlines. Memory is measured in a second run under tracemalloc.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks import OUT
from storygen import SimulatedBackend
from storygen.backends.batch_api_client import BatchClient
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.bulk.batch_api import BatchRounds, Polling
from storygen.bulk.folder import BulkDir
from storygen.bulk.live import run_bulk
from storygen.bulk.rows import Defaults, parse_rows
from storygen.core.pricing import estimate_cost
from storygen.sim import RunningServer, SimServerConfig
from storygen.store import RunStore

MEDIAN_S = 0.1
SCALE = MEDIAN_S / 8.0  # the simulated median call is 8 s at scale 1
ROOT = Path(__file__).resolve().parents[1]


def ideas(n: int, duration_s: int = 600) -> str:
    return "idea,duration_s\n" + "".join(f"Idea number {i},{duration_s}\n" for i in range(n))


def make_bulk(tmp: Path, n: int, defaults: Defaults, settings: dict[str, Any]) -> BulkDir:
    rows = parse_rows(ideas(n), "csv", defaults)
    return BulkDir.create(
        tmp / "out",
        source="bench",
        valid=rows.valid,
        rejected=[],
        store=RunStore(tmp / "runs"),
        backend_settings=settings,
        options={"via": "live", "format": "json"},
    )


def live(n: int, in_flight: int, strategy: str, window: int, trace: bool) -> dict[str, Any]:
    defaults = Defaults(strategy=strategy, concurrency=str(window))
    backend = SimulatedBackend(time_scale=SCALE)
    with tempfile.TemporaryDirectory() as tmp:
        bulk = make_bulk(Path(tmp), n, defaults, backend.settings())
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        result = run_bulk(bulk, backend, max_in_flight=in_flight)
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
        if trace:
            tracemalloc.stop()
    scenes = sum(line.scenes for line in result.lines)
    assert scenes == n * 75 and not result.failed, result.failed[:3]
    calls = scenes + (n if strategy == "outline" else 0)
    ideal = in_flight / MEDIAN_S
    return {
        "scripts": n,
        "scenes": scenes,
        "config": f"{strategy}({window})",
        "in_flight": in_flight,
        "wall_s": round(wall, 2),
        "calls_per_s": round(calls / wall),
        "ideal_calls_per_s": round(ideal),
        "of_ideal": round(calls / wall / ideal, 3),
        "peak_mb": round(peak, 1),
        "mb_per_1000_scenes": round(peak * 1000 / scenes, 2) if trace else None,
    }


def kill_and_resume(n: int, in_flight: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        (path / "ideas.csv").write_text(ideas(n), encoding="utf-8")
        cli = [sys.executable, "-m", "storygen", "bulk"]
        common = ["--no-progress"]
        proc = subprocess.Popen(
            [*cli, str(path / "ideas.csv"), "--out-dir", str(path / "out"), "--runs-dir",
             str(path / "runs"), "--strategy", "windowed", "--batch-size", "10",
             "--max-in-flight", str(in_flight), "--time-scale", str(SCALE), *common],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def written() -> int:
            return sum(
                len(p.read_text().splitlines()) for p in (path / "runs").glob("*/checkpoint.jsonl")
            )

        while written() < n * 75 // 2:  # half way, then kill -9
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = written()
        t0 = time.perf_counter()
        done = subprocess.run(
            [*cli, "resume", str(path / "out"), *common], cwd=ROOT, capture_output=True, text=True
        )
        resume_s = time.perf_counter() - t0
        assert done.returncode == 0, done.stderr
        bulk = BulkDir.open(path / "out")
        lines = total = dupes = 0
        for entry in bulk.entries:
            rows = (bulk.run(entry).path / "checkpoint.jsonl").read_text().splitlines()
            indices = [json.loads(r)["scene"]["index"] for r in rows if r.strip()]
            lines += len(indices)
            total += len(set(indices))
            dupes += len(indices) - len(set(indices))
        exports = len(list((path / "out" / "scripts").glob("row-*.json")))
    return {
        "scripts": n,
        "scenes_at_kill": at_kill,
        "scenes_after_resume": total,
        "expected": n * 75,
        "written_twice": dupes,
        "exports": exports,
        "resume_s": round(resume_s, 1),
    }


def batch_api(n: int, delay_s: float, strategy: str, window: int) -> dict[str, Any]:
    config = SimServerConfig(time_scale=0.0, batch_delay_s=delay_s)
    with RunningServer(config) as server, tempfile.TemporaryDirectory() as tmp:
        backend_config = BackendConfig.build_config(
            kind="openai", base_url=server.url, model="gpt-4o-mini", api_keys=["sk-bench"]
        )
        backend = OpenAIBackend(backend_config)
        defaults = Defaults(strategy=strategy, concurrency=str(window))
        bulk = make_bulk(Path(tmp), n, defaults, backend.settings())
        bulk.manifest.via = "batch-api"
        client = BatchClient(backend_config)
        t0 = time.perf_counter()
        BatchRounds(bulk, backend, client, polling=Polling(first_s=0.1, most_s=1.0)).run()
        wall = time.perf_counter() - t0
        client.close()
        lines = bulk.summary()
        stats = server.state
        rounds = len(bulk.manifest.batches)
        prompt = sum(line.prompt_tokens for line in lines)
        completion = sum(line.completion_tokens for line in lines)
        finished = sum(line.status == "finished" for line in lines)
    live_cost = estimate_cost("gpt-4o-mini", prompt, completion) or 0.0
    batch_cost = estimate_cost("gpt-4o-mini", prompt, completion, batch=True) or 0.0
    return {
        "scripts": n,
        "finished": finished,
        "config": f"{strategy}({window})",
        "scenes": n * 75,
        "rounds": rounds,
        "http_requests": stats.batch_http_requests,
        "live_requests": len(stats.requests),
        "polls": stats.batch_polls,
        "wall_s": round(wall, 1),
        "delay_x_rounds_s": round(delay_s * rounds, 1),
        "cost_batch_usd": round(batch_cost, 4),
        "cost_live_usd": round(live_cost, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["live", "memory", "kill", "batch"], default=None)
    parser.add_argument("--scripts", type=int, default=200)
    args = parser.parse_args()
    report: dict[str, list[dict[str, Any]]] = {}

    def show(name: str, row: dict[str, Any]) -> None:
        print(name, row, flush=True)
        report.setdefault(name, []).append(row)

    if args.only in (None, "live"):
        for strategy, window in (("windowed", 10), ("outline", 25)):
            show("live", live(args.scripts, 200, strategy, window, trace=False))
    if args.only in (None, "memory"):
        for n in (50, 100, 200):
            show("memory", live(n, 200, "windowed", 10, trace=True))
    if args.only in (None, "kill"):
        show("kill", kill_and_resume(args.scripts, 200))
    if args.only in (None, "batch"):
        for strategy, window in (("outline", 25), ("batched", 25)):
            show("batch", batch_api(100, 10.0, strategy, window))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"bulk{'-' + args.only if args.only else ''}.json").write_text(
        json.dumps(report, indent=2)
    )


if __name__ == "__main__":
    main()
