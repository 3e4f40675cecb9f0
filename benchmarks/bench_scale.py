"""Engine cost at scale: N scenes at zero latency, concurrency 100, with the run store on.

    python -m benchmarks.bench_scale

Time is measured without tracemalloc; memory in a second run with it. "Flat" means the
peak grows only by the scenes themselves (constant bytes a scene), not with N squared.
The request limits stop at 7,200 scenes, so the 10,000-scene request skips validation.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc

from benchmarks import OUT
from storygen import RunStore, ScriptRequest, SimulatedBackend, generate


def request(n: int, strategy: str) -> ScriptRequest:
    return ScriptRequest.model_construct(
        idea="A city that rebuilds itself every night",
        style="cinematic",
        language="en",
        duration_s=8.0 * n,
        seconds_per_scene=8.0,
        strategy=strategy,
        concurrency=100,
        lag_allowance=None,
        context_scenes=5,
        seed=0,
    )


def one(n: int, strategy: str, trace: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        script = generate(request(n, strategy), SimulatedBackend(time_scale=0), store=RunStore(tmp))
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        assert len(script.scenes) == n
        return {"seconds": seconds, "peak_mb": peak / 2**20}


def main() -> None:
    rows = []
    for strategy in ("windowed", "batched", "outline"):
        for n in (2500, 5000, 10000):
            timed = one(n, strategy, trace=False)
            mem = one(n, strategy, trace=True)
            row = {
                "strategy": strategy,
                "scenes": n,
                "seconds": round(timed["seconds"], 2),
                "scenes_per_s": round(n / timed["seconds"]),
                "peak_mb": round(mem["peak_mb"], 1),
                "peak_kb_per_scene": round(mem["peak_mb"] * 1024 / n, 2),
            }
            rows.append(row)
            print(row, flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
