"""Through the openai SDK over HTTP to serve-sim: a compute-bound server is not pushed
to its slots, and a provider's rate-limit headers keep 429s rare."""

from __future__ import annotations

import statistics

from conftest import Serve

from storygen import ScriptRequest, generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.models import AdaptiveSettings
from storygen.sim import RunningServer


def backend(server: RunningServer) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai",
        base_url=server.url,
        model="storygen-sim-1",
        api_keys=["sk-test-policies-0000"],
        per_key_concurrency=100,
    )
    return OpenAIBackend(config)


def adaptive(scenes: int) -> ScriptRequest:
    return ScriptRequest(
        idea="A fox",
        duration_s=8 * scenes,
        strategy="windowed",
        concurrency=32,
        adaptive=AdaptiveSettings(),
    )


def test_on_a_compute_bound_server_adaptive_does_not_fill_its_slots(serve: Serve) -> None:
    """8 slots sharing a compute of 1.5 calls: beyond 2 in flight nothing is gained, and
    Vegas alone held ~8-10 in flight (every slot busy, each call 5x slower)."""
    server = serve(time_scale=0.0125, capacity=8, compute_bound=True, compute_gain=1.5)
    script = generate(adaptive(150), backend(server))
    assert len(script.scenes) == 150
    limits = [limit for _, limit in script.meta.concurrency_trace]
    assert statistics.median(limits[len(limits) // 2 :]) <= 8
    assert max(limits) < 32  # it found a limit far below the maximum


def test_with_rate_limit_headers_an_unknown_rpm_meets_few_429s(serve: Serve) -> None:
    server = serve(time_scale=0.0125, rpm=60)
    script = generate(adaptive(150), backend(server))
    assert len(script.scenes) == 150
    requests = len(server.state.requests)
    # generous: about 1% in the bench; learning the window from 429s costs more
    assert server.state.rejected_429 <= max(3, 0.06 * requests)
