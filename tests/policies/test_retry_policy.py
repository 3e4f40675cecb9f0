"""How long a retry waits: full-jitter backoff that grows per attempt, and Retry-After first.

And the simulated world's faults reach the retry loop from the command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tenacity import AsyncRetrying, RetryCallState

from storygen import RateLimitedError, RetryPolicy, TransientError
from storygen.cli.main import main

DRAWS = 2000


def after_failure(attempt: int, exc: BaseException) -> RetryCallState:
    """The state tenacity hands the wait after attempt ``attempt`` raised ``exc``."""
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def waits(policy: RetryPolicy, attempt: int, exc: BaseException | None = None) -> list[float]:
    state = after_failure(attempt, exc or TransientError("503"))
    return [policy.wait_for(state) for _ in range(DRAWS)]


def test_backoff_bound_doubles_per_attempt_up_to_the_cap() -> None:
    """Full jitter: uniform on [0, initial * 2^(n-1)], the bound capped at max_wait_s."""
    policy = RetryPolicy(attempts=10, initial_wait_s=1.0, max_wait_s=5.0)
    highest = []
    for attempt, bound in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (6, 5.0)]:
        drawn = waits(policy, attempt)
        assert min(drawn) >= 0.0
        assert max(drawn) <= bound
        # 2000 uniform draws all below 90% of the bound: odds of 0.9^2000
        assert max(drawn) >= 0.9 * bound, (attempt, max(drawn))
        assert len(set(drawn)) > DRAWS // 2  # jittered, not a fixed wait
        highest.append(max(drawn))
    assert highest[0] < highest[1] < highest[2] < highest[3]  # it grows until the cap


def test_retry_after_beats_the_backoff_at_any_attempt() -> None:
    policy = RetryPolicy(attempts=10, initial_wait_s=1.0, max_wait_s=5.0)
    for attempt in (1, 3, 8):
        hinted = waits(policy, attempt, RateLimitedError("429", retry_after=3.5))
        assert set(hinted) == {3.5}  # exactly the provider's hint, no jitter


def test_retry_after_is_capped_and_never_negative() -> None:
    policy = RetryPolicy(initial_wait_s=1.0, max_wait_s=5.0, max_retry_after_s=120.0)
    assert waits(policy, 1, RateLimitedError("429", retry_after=3600.0)) == [120.0] * DRAWS
    assert waits(policy, 1, RateLimitedError("429", retry_after=-2.0)) == [0.0] * DRAWS
    # a transient error without a hint falls back to the backoff
    assert max(waits(policy, 1, RateLimitedError("429", retry_after=None))) <= 1.0


def test_a_scaled_policy_scales_every_wait() -> None:
    policy = RetryPolicy(initial_wait_s=1.0, max_wait_s=30.0, max_retry_after_s=120.0).scaled(0.01)
    assert max(waits(policy, 1)) <= 0.01
    assert max(waits(policy, 10)) <= 0.3
    assert waits(policy, 1, RateLimitedError("429", retry_after=60.0)) == [1.2] * DRAWS


def test_cli_error_rate_produces_retries_and_the_run_still_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--error-rate is not decoration: the simulated 503s are met and retried."""

    def generate(error_rate: str, runs: Path) -> list[int]:
        code = main(
            ["generate", "--idea", "A heist", "--duration", "240", "--strategy", "windowed",
             "--window", "5", "--error-rate", error_rate, "--time-scale", "0.002",
             "--attempts", "8", "--runs-dir", str(runs), "--no-progress"]
        )  # fmt: skip
        assert code == 0, capsys.readouterr().err
        (run_dir,) = runs.iterdir()
        assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
        timeline = json.loads((run_dir / "timeline.json").read_text())
        assert [t["index"] for t in timeline] == list(range(1, 31))
        return [t["attempts"] for t in timeline]

    faulty = generate("0.3", tmp_path / "faulty")
    retried = [a for a in faulty if a > 1]
    assert len(retried) >= 5, faulty  # about 30% of 30 scenes on the seeded draws
    assert generate("0", tmp_path / "clean") == [1] * 30
