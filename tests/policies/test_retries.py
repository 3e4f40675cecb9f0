"""Retries: transient errors are retried with backoff or Retry-After; permanent ones stop."""

from __future__ import annotations

import pytest
from conftest import FAST, FaultyBackend, fast_policy

from storygen import (
    PermanentError,
    RateLimitedError,
    RetryPolicy,
    RunFailedError,
    ScriptRequest,
    SimulatedBackend,
    TransientError,
    generate,
)
from storygen.engine.events import Event, SceneRetrying

SHORT = ScriptRequest(idea="A robot learns to paint", duration_s=80, concurrency=5)


def test_transient_error_then_success_keeps_the_scene() -> None:
    backend = FaultyBackend(
        {(3, 1): lambda: TransientError("503"), (3, 2): lambda: TransientError("timed out")}
    )
    events: list[Event] = []
    script = generate(SHORT, backend, policy=fast_policy(), subscribers=[events.append])
    assert [s.index for s in script.scenes] == list(range(1, 11))
    assert script.meta.timeline[2].attempts == 3
    assert [a for a in backend.attempts_seen if a[0] == 3] == [(3, 1), (3, 2), (3, 3)]
    retried = [e for e in events if isinstance(e, SceneRetrying)]
    assert [(e.index, e.attempt) for e in retried] == [(3, 1), (3, 2)]


def test_retry_after_from_the_provider_is_honoured() -> None:
    backend = FaultyBackend({(2, 1): lambda: RateLimitedError("429", retry_after=0.25)})
    events: list[Event] = []
    # our own backoff is ~1 ms, so only Retry-After can explain a 0.25 s wait
    script = generate(SHORT, backend, policy=fast_policy(), subscribers=[events.append])
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert retry.wait_s == pytest.approx(0.25)
    scene2 = script.meta.timeline[1]
    assert scene2.end_s - scene2.start_s >= 0.25


def test_backoff_waits_in_a_run_stay_under_the_cap() -> None:
    """That the bound grows per attempt is checked on the policy (test_retry_policy.py)."""
    policy = RetryPolicy(attempts=6, initial_wait_s=0.001, max_wait_s=0.004)
    faults = {(1, a): (lambda: TransientError("boom")) for a in range(1, 6)}
    events: list[Event] = []
    generate(SHORT, FaultyBackend(faults), policy=policy, subscribers=[events.append])
    waits = [e.wait_s for e in events if isinstance(e, SceneRetrying)]
    assert len(waits) == 5
    assert all(0 <= w <= 0.004 for w in waits)


def test_rpm_limit_of_the_simulated_backend_is_met_with_retry_after() -> None:
    backend = SimulatedBackend(time_scale=0.005, rpm=6)  # a 0.3 s "minute"
    request = ScriptRequest(idea="A heist", duration_s=96, concurrency=6)
    events: list[Event] = []
    script = generate(request, backend, policy=fast_policy(10), subscribers=[events.append])
    assert len(script.scenes) == 12
    waits = [e for e in events if isinstance(e, SceneRetrying)]
    assert waits, "the 7th request inside one window must have been refused"
    assert all("rate limit" in e.error and 0 < e.wait_s <= 0.3 for e in waits)
    assert backend.calls == 12 + len(waits)  # each retry answers exactly one refused call


def test_exhausted_retries_fail_the_run_naming_the_scene() -> None:
    faults = {(4, a): (lambda: TransientError("upstream 502")) for a in range(1, 5)}
    backend = FaultyBackend(faults)
    with pytest.raises(RunFailedError) as info:
        generate(SHORT, backend, policy=fast_policy(4))
    assert info.value.scene_index == 4
    assert "scene 4" in str(info.value) and "upstream 502" in str(info.value)
    assert isinstance(info.value.__cause__, TransientError)
    assert [a for a in backend.attempts_seen if a[0] == 4] == [(4, 1), (4, 2), (4, 3), (4, 4)]


def test_permanent_error_is_not_retried_and_stops_new_scenes() -> None:
    backend = SimulatedBackend(time_scale=FAST, fail_scenes={7})
    request = ScriptRequest(idea="A heist", duration_s=600, strategy="batched", concurrency=5)
    with pytest.raises(RunFailedError) as info:
        generate(request, backend, policy=fast_policy())
    assert "scene 7" in str(info.value) and "permanent" in str(info.value)
    assert info.value.scene_index == 7 and isinstance(info.value.__cause__, PermanentError)
    # batch 1 (5 calls) + batch 2 (5 calls, scene 7 once): nothing after the failed batch
    assert backend.calls == 10


def test_permanent_error_from_a_backend_stops_at_once() -> None:
    backend = FaultyBackend({(1, 1): lambda: PermanentError("the API key was rejected")})
    with pytest.raises(RunFailedError, match="the API key was rejected"):
        generate(SHORT, backend, policy=fast_policy())
    assert [a for a in backend.attempts_seen if a[0] == 1] == [(1, 1)]
    assert max(i for i, _ in backend.attempts_seen) <= 5  # only the first batch ever started


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="between 1 and 20") as info:
        RetryPolicy(attempts=0)
    assert getattr(info.value, "field", None) == "attempts"
    with pytest.raises(ValueError) as info:
        RetryPolicy(initial_wait_s=2.0, max_wait_s=1.0)
    assert getattr(info.value, "field", None) == "initial_wait_s"


def test_a_rate_limited_call_may_wait_longer_than_a_failing_one() -> None:
    """Six 429s in a row are six "wait"s, not a failure; four 5xx in a row are one."""
    from storygen import TransientError

    limited = {(3, n): (lambda: RateLimitedError("429", retry_after=0.001)) for n in range(1, 7)}
    backend = FaultyBackend(limited)
    script = generate(
        ScriptRequest(idea="x", duration_s=40, strategy="sequential"), backend, policy=fast_policy()
    )
    assert script.meta.timeline[2].attempts == 7 and script.meta.timeline[2].rate_limited == 6
    failing = FaultyBackend({(3, n): (lambda: TransientError("503")) for n in range(1, 7)})
    with pytest.raises(RunFailedError):
        generate(
            ScriptRequest(idea="x", duration_s=40, strategy="sequential"),
            failing,
            policy=fast_policy(),
        )
    assert [a for s, a in failing.attempts_seen if s == 3] == [1, 2, 3, 4]
