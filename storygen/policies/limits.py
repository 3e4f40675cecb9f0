"""Client-side limits: stay under a provider's RPM/TPM, and spread calls over a key pool.

The limiter is a token bucket in its "virtual scheduling" form (GCRA) with no burst:
requests leave evenly spaced, window/rpm apart. A bucket that lets a full minute's
budget out at once, then refills, puts up to twice the limit into one sliding window,
and a burst leaves the client spread over the time it takes to serialise it, so the
provider's clock sees a different window from ours: both end in 429s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

Clock = Callable[[], float]


class RateLimiter:
    """At most ``rpm`` requests and about ``tpm`` tokens in any ``window_s`` seconds."""

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        window_s: float = 60.0,
        margin: float = 0.02,
        margin_s: float = 0.05,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rpm, self.tpm = rpm, tpm
        # slack for the jitter between our clock and the provider's (a first call's
        # connection set-up alone can take tens of milliseconds)
        self.window_s = window_s * (1 + margin) + margin_s
        self._clock = clock
        self._next_request = 0.0  # earliest time the next request may leave
        self._next_tokens = 0.0
        self._lock: asyncio.Lock | None = None

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    def _token_time(self, tokens: int) -> float:
        return tokens * self.window_s / self.tpm if self.tpm else 0.0

    async def acquire(self, tokens: int = 0) -> int:
        """Wait for our slot, then book it; returns the booked tokens, to settle later."""
        if not self.active:
            return 0
        if self.tpm is not None:
            tokens = min(tokens, self.tpm)  # one request over the budget still runs, alone
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:  # first come, first served
            now = self._clock()
            start = max(now, self._next_request, self._next_tokens)
            if start > now:
                await asyncio.sleep(start - now)
            if self.rpm is not None:
                self._next_request = start + self.window_s / self.rpm
            self._next_tokens = start + self._token_time(tokens)
        return tokens

    def settle(self, booked: int, actual_tokens: int) -> None:
        """Replace the estimate with the usage the response reported."""
        if self.tpm is not None:
            self._next_tokens += self._token_time(actual_tokens - booked)


@dataclass
class KeyStats:
    requests: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    cooling_until: float = 0.0


@dataclass
class KeyPool:
    """Spreads calls over keys; a key answered with 429 rests while the others go on."""

    size: int
    per_key_concurrency: int = 8
    clock: Clock = time.monotonic
    stats: list[KeyStats] = field(init=False)

    def __post_init__(self) -> None:
        self.stats = [KeyStats() for _ in range(self.size)]
        self._changed: asyncio.Condition | None = None

    @property
    def capacity(self) -> int:
        return self.size * self.per_key_concurrency

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _pick(self) -> int | None:
        now = self.clock()
        free = [
            i
            for i, s in enumerate(self.stats)
            if s.cooling_until <= now and s.in_flight < self.per_key_concurrency
        ]
        # least busy first, then least used, so load spreads evenly
        return min(
            free, key=lambda i: (self.stats[i].in_flight, self.stats[i].requests), default=None
        )

    def next_free_in(self) -> float:
        """Seconds until some key is out of its cool-down (0 if one is ready)."""
        now = self.clock()
        return max(0.0, min(s.cooling_until for s in self.stats) - now)

    @asynccontextmanager
    async def key(self) -> AsyncIterator[int]:
        cond = self._condition()
        async with cond:
            while (i := self._pick()) is None:
                wait = self.next_free_in()
                with suppress(TimeoutError):  # a cool-down ended: look again
                    await asyncio.wait_for(cond.wait(), timeout=wait if wait > 0 else None)
            stats = self.stats[i]
            stats.in_flight += 1
            stats.requests += 1
        try:
            yield i
        finally:
            async with cond:
                stats.in_flight -= 1
                cond.notify_all()

    def cool_down(self, i: int, seconds: float) -> None:
        stats = self.stats[i]
        stats.rate_limited += 1
        stats.cooling_until = max(stats.cooling_until, self.clock() + max(0.0, seconds))
