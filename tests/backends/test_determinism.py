"""Same seed, same script; and every strategy meets the same latencies."""

from __future__ import annotations

from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.backends.simulated import draw_latency


def test_same_seed_same_script() -> None:
    request = ScriptRequest(idea="A dragon guards a library", duration_s=120, seed=3)
    a = generate(request, SimulatedBackend(time_scale=0))
    b = generate(request, SimulatedBackend(time_scale=0))
    assert a.scenes == b.scenes
    c = generate(request.model_copy(update={"seed": 4}), SimulatedBackend(time_scale=0))
    assert a.scenes != c.scenes


def test_latency_depends_only_on_seed_call_and_attempt() -> None:
    assert draw_latency(1, "scene5", 1) == draw_latency(1, "scene5", 1)
    assert draw_latency(1, "scene5", 1) != draw_latency(1, "scene5", 2)
    assert draw_latency(1, "scene5", 1) != draw_latency(2, "scene5", 1)
    draws = sorted(draw_latency(0, f"scene{k}", 1) for k in range(2000))
    assert 7.6 < draws[1000] < 8.4  # median 8 s


def test_every_strategy_meets_the_same_latencies() -> None:
    base = ScriptRequest(idea="A dragon guards a library", duration_s=200, seed=9)
    services = []
    for strategy, size in [("sequential", 1), ("batched", 5), ("windowed", 3), ("outline", 10)]:
        request = base.model_copy(update={"strategy": strategy, "concurrency": size})
        script = generate(request, SimulatedBackend(time_scale=0.001))
        services.append([round(t.service_s, 9) for t in script.meta.timeline])
    assert all(s == services[0] for s in services)
