"""Pacing by the provider's own account of its limits: the x-ratelimit-* headers.

Every answer says how many requests the provider still takes (``remaining``) and when its
window next lets one more in (``reset``). A client that spends that room and then waits
for the reset rarely meets a 429, where learning the window from 429s costs a few at the
start and after every change.

The headers are a little old when they arrive: they describe the window when the answer
left the provider, and a call sent just before then may not have reached it yet. So every
call started in the last ``lag`` seconds before the headers came is counted against them
as well as those started since; a 429 all the same means the lag is longer (a busy client
or a far provider), and it grows. The room left is spread over the time to the reset, not
spent in one burst, so that a later answer corrects the picture before much of it is used.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from storygen.core.rate_headers import RateHeaders

LAG_S = 0.01  # first guess: calls sent this long before the headers came may be uncounted
MAX_LAG_S = 2.0
LAG_GROWTH = 1.5  # per 429 met while pacing by the headers


class HeaderPace:
    """When the next call may start, by the last rate-limit headers seen."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.seen = False  # headers with a request count came: they pace from now on
        self.lag = LAG_S
        self._remaining = 0
        self._reset_at = 0.0  # when the window lets one more call in
        self._counted_from = 0.0  # calls started since then count against ``_remaining``
        self._starts: deque[float] = deque()
        self._tokens_at = 0.0  # no tokens left until then

    def observed(self, rate: RateHeaders) -> None:
        now = self._clock()
        if rate.remaining_tokens == 0 and rate.reset_tokens_s is not None:
            self._tokens_at = max(self._tokens_at, now + rate.reset_tokens_s)
        if rate.remaining_requests is None or rate.reset_requests_s is None:
            return
        self.seen = True
        self._remaining = rate.remaining_requests
        self._reset_at = now + rate.reset_requests_s
        self._counted_from = now - self.lag
        while self._starts and self._starts[0] <= self._counted_from - MAX_LAG_S:
            self._starts.popleft()

    def started(self) -> None:
        self._starts.append(self._clock())

    def refused(self) -> None:
        """A 429 although the headers said there was room: they are older than thought."""
        if self.seen:
            self.lag = min(MAX_LAG_S, self.lag * LAG_GROWTH)

    def wait(self, in_flight: int) -> float | None:
        """0 when a call may start now, else how long to wait (None: until an answer,
        which brings fresh headers)."""
        now = self._clock()
        tokens = max(0.0, self._tokens_at - now)
        if not self.seen:
            return tokens
        used = sum(1 for at in self._starts if at > self._counted_from)
        room = self._remaining - used
        if now >= self._reset_at:
            room += 1  # the oldest call has left the window: one more (the next answer tells)
        if room <= 0:
            if now < self._reset_at:
                return max(tokens, self._reset_at - now)
            # spent, and nothing newer known: a call in flight will answer with news;
            # with none in flight, one call goes and asks
            return None if in_flight else tokens
        gap = max(0.0, self._reset_at - now) / (room + 1)  # the room spread to the reset
        last = self._starts[-1] if self._starts else float("-inf")
        return max(tokens, last + gap - now, 0.0)
