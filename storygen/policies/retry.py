"""One retry loop for every backend: tenacity, full jitter, Retry-After aware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_random_exponential,
)

from storygen.core.errors import (
    InvalidRequestError,
    MalformedOutputError,
    RateLimitedError,
    TransientError,
)

BeforeSleep = Callable[[int, BaseException, float], None]
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Only transient errors are retried; a provider's Retry-After beats our own backoff."""

    attempts: int = 4
    # A 429 with Retry-After says "wait", not "failed": a rate-limited call may try longer.
    rate_limited_attempts: int = 12
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 20:
            raise InvalidRequestError(
                f"retry attempts must be between 1 and 20 (got {self.attempts})",
                "attempts",
            )
        if self.initial_wait_s < 0 or self.max_wait_s < self.initial_wait_s:
            raise InvalidRequestError(
                "retry waits must satisfy 0 <= initial_wait_s <= max_wait_s",
                "initial_wait_s",
            )

    def scaled(self, factor: float) -> RetryPolicy:
        """Waits in a simulated world that runs ``factor`` times real speed."""
        return replace(
            self,
            initial_wait_s=self.initial_wait_s * factor,
            max_wait_s=self.max_wait_s * factor,
            max_retry_after_s=self.max_retry_after_s * factor,
        )

    def wait_for(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(max(float(hint), 0.0), self.max_retry_after_s)
        backoff = wait_random_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
        return backoff(state)

    def retrying(self, before_sleep: BeforeSleep | None = None) -> AsyncRetrying:
        def _before_sleep(state: RetryCallState) -> None:
            if before_sleep and state.outcome and state.next_action:
                exc = state.outcome.exception()
                if exc is not None:
                    before_sleep(state.attempt_number, exc, state.next_action.sleep)

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            limited = isinstance(exc, RateLimitedError)
            cap = max(self.attempts, self.rate_limited_attempts) if limited else self.attempts
            return state.attempt_number >= cap

        return AsyncRetrying(
            stop=stop,
            wait=self.wait_for,
            retry=retry_if_exception_type(TransientError),
            before_sleep=_before_sleep,
            reraise=True,
        )


async def call_with_retries(
    policy: RetryPolicy,
    call: Callable[[int, str | None], Awaitable[T]],
    before_sleep: BeforeSleep | None = None,
) -> tuple[T, int]:
    """Run ``call(attempt, feedback)`` until it succeeds; return (result, attempts).

    The first attempt runs outside tenacity: most calls succeed at once, and a bulk run of
    thousands of calls a second should not pay for a retry loop it does not use. A first
    failure is handed to the same tenacity loop, so waits, limits and callbacks are as if
    tenacity had run it.
    """
    try:
        return await call(1, None), 1
    except TransientError as exc:
        first: TransientError = exc
    feedback = str(first) if isinstance(first, MalformedOutputError) else None
    async for attempt in policy.retrying(before_sleep):
        with attempt:
            n = attempt.retry_state.attempt_number
            if n == 1:
                raise first
            try:
                return await call(n, feedback), n
            except MalformedOutputError as exc:
                feedback = str(exc)  # the model can repair its answer if told why
                raise
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
