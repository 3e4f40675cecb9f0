"""The provider's request window, learned from its 429s and their Retry-After (the adaptive
gate's, when no rate-limit headers say it outright)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class _Start:
    """One attempt as the window saw it: when it started, and whether it was refused."""

    __slots__ = ("answered_at", "at", "refused")

    def __init__(self, at: float) -> None:
        self.at = at
        self.refused = False
        self.answered_at: float | None = None


class LearnedWindow:
    """The provider's request limit as "at most ``size`` calls in any ``span`` seconds",
    learned from its 429s and their Retry-After, so calls leave when the provider has room
    instead of being refused and retried.

    The first 429 says: the calls accepted so far fill the window, and the oldest of them
    leaves it ``retry_after`` after this call. So the window spans from our first call to
    then, and holds as many calls as were accepted. That is exact for a sliding window met
    within its first span (slow start reaches any limit that quickly), and a client within
    it also stays within a token bucket of that capacity and rate. Our clock is not the
    provider's (a first call's connection set-up alone delays it), so the guess is
    checked both ways:

    - a 429 for a call the window let through: the provider counts its calls for longer,
      so the span is relearned from the calls we count (its oldest leaves ``retry_after``
      after this call), or, if that says nothing new, the window holds one call fewer;
    - a full span in which the window held calls back without a 429: it may be too
      tight, so the span shrinks, by a step that doubles while no 429 answers it.
    """

    MARGIN = 0.02  # our clock against the provider's: a call is counted a little longer
    FIRST_STEP = 0.05
    MAX_STEP = 0.2

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.size: int | None = None
        self.span = 0.0
        self.changed_at = 0.0  # when size or span last changed
        self.step = self.FIRST_STEP
        self._starts: deque[_Start] = deque()

    @property
    def known(self) -> bool:
        return self.size is not None

    def _accepted_before(self, start: _Start) -> list[float]:
        """Start times of the calls started before ``start`` that were not refused."""
        accepted: list[float] = []
        for s in self._starts:
            if s is start:
                break
            if not s.refused:
                accepted.append(s.at)
        return accepted

    def room_in(self) -> float:
        """Seconds until the window has room for one more call (0: now)."""
        if self.size is None:
            return 0.0
        now = self._clock()
        while self._starts and self._starts[0].at <= now - 2 * self.span:
            self._starts.popleft()  # twice the span: a 429 may say it is longer than we think
        counted = [s.at for s in self._starts if not s.refused and s.at > now - self.span]
        if len(counted) < self.size:
            return 0.0
        if now - self.changed_at >= self.span:
            # it held calls back for a whole span and no 429 came: perhaps it is too tight
            self.span *= 1 - self.step
            self.step = min(self.MAX_STEP, 2 * self.step)
            self.changed_at = now
            return self.room_in()
        return max(0.0, counted[-self.size] + self.span - now)

    def _arrival(self, first: _Start) -> float:
        """When the provider got a call: sent at ``at``, but a first call also opens the
        connection. Its answer came a typical call time after it arrived, so the later of
        the two is the better guess: a window counted from the send is too long."""
        took = sorted(s.answered_at - s.at for s in self._starts if s.answered_at is not None)
        if first.answered_at is None or not took:
            return first.at
        return max(first.at, first.answered_at - took[len(took) // 2])

    def start(self) -> _Start:
        start = _Start(self._clock())
        self._starts.append(start)
        return start

    def refused(self, start: _Start, retry_after: float | None) -> bool:
        """A 429 for ``start``; True if the window is known (now or already)."""
        start.refused = True
        if retry_after is None:
            return self.known  # nothing to learn from a 429 that says no time
        accepted = self._accepted_before(start)
        leaves = start.at + retry_after  # when the oldest call the provider counts leaves
        if self.size is None:
            first = self._arrival(self._starts[0]) if self._starts else start.at
            self.size = max(1, len(accepted))
            self.span = max(leaves - first, 1e-3) * (1 + self.MARGIN)
        elif start.at >= self.changed_at:  # let through by the window as it is now
            oldest = accepted[-self.size] if len(accepted) >= self.size else None
            span = (leaves - oldest) * (1 + self.MARGIN) if oldest is not None else 0.0
            if span > self.span:
                self.span = span
            else:
                self.size = max(1, self.size - 1)
        else:
            return True  # it left before the last change: a 429 from the same burst
        self.step = self.FIRST_STEP
        self.changed_at = self._clock()
        return True
