"""An RPM limit the client is not told about, over HTTP, with and without the provider's
rate-limit headers.

python -m benchmarks.bench_rate_headers [--seeds 3] [--time-scale 0.0125] [--scenes 300]

The openai SDK talks to serve-sim (in this process's thread) with an rpm: with its
x-ratelimit-* headers the adaptive gate paces by them; without them (``rate_headers``
off) it learns the window from 429s, as before. Throughput is scenes per second against
the limit's calls per second, and 429s are the server's own count against every request
it got, each measured in the same run.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.serve_sim import sim_config
from benchmarks.tables import seeded_main
from storygen import ScriptRequest, generate
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.models import AdaptiveSettings, StrategyName
from storygen.sim import RunningServer, SimServerConfig

IDEA = "A lighthouse keeper finds a map to a drowned city"
RPM = 60  # in the simulated minute (60 x time scale seconds)


def one_run(
    strategy: StrategyName, seed: int, scale: float, scenes: int, headers: bool
) -> tuple[float, float]:
    """(throughput / the limit's, share of requests answered 429) of one run."""
    config = SimServerConfig(time_scale=scale, rpm=RPM, rate_headers=headers)
    with RunningServer(config) as server:
        backend = OpenAIBackend(sim_config(server.url))
        request = ScriptRequest(
            idea=IDEA,
            duration_s=8 * scenes,
            strategy=strategy,
            concurrency=50,
            seed=seed,
            adaptive=AdaptiveSettings(),
        )
        script = generate(request, backend)
    allowed = RPM / (60 * scale)  # calls a second the provider lets through
    share = scenes / script.meta.wall_time_s / allowed
    return share, server.state.rejected_429 / max(1, len(server.state.requests))


def table(seeds: range, scale: float, scenes: int) -> list[dict[str, Any]]:
    rows = []
    for strategy in ("windowed", "batched"):
        for headers in (True, False):
            runs = [one_run(strategy, seed, scale, scenes, headers) for seed in seeds]  # type: ignore[arg-type]
            shares, rejected = [r[0] for r in runs], [r[1] for r in runs]
            rows.append(
                {
                    "configuration (HTTP)": f"{strategy}(adaptive)",
                    "rate-limit headers": "sent" if headers else "not sent",
                    "throughput / the limit's (mean)": f"{statistics.fmean(shares):.0%}",
                    "per run": ", ".join(f"{s:.0%}" for s in shares),
                    "calls answered 429 (mean)": f"{statistics.fmean(rejected):.1%}",
                    "429 per run": ", ".join(f"{r:.1%}" for r in rejected),
                }
            )
    return rows


if __name__ == "__main__":
    seeded_main(table, "rate_headers", scenes=300)
