"""Adaptive concurrency: find a provider's limit from what it says, instead of asking the
user to know it.

The controller is TCP congestion control applied to calls in flight (AIMD with a Vegas-style
delay signal, as in Netflix's concurrency-limits): it grows while call times stay near their
no-load level and no 429 comes, and backs off multiplicatively on a 429 or when call times
inflate, which is what a queue in front of the model looks like. Decisions are made once per
"round" (as many answers as calls in flight), so one slow cohort is not punished twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from storygen.errors import RateLimitedError
from storygen.models import AdaptiveSettings

QUEUEING = 1.5  # recent call times this far above their no-load level mean a queue
BASELINE = 16  # the first calls started set the no-load level, once every one has answered
RECENT = 16  # answers whose median is compared with it
CUT = 0.7  # multiplicative decrease, as TCP CUBIC's beta
PROBE = 0.25  # growth per round once near the limit that was last cut


class Controller:
    """How many calls may be in flight now; fed every call's time and every 429."""

    def __init__(
        self,
        settings: AdaptiveSettings,
        max_limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min = settings.min_concurrency
        self.max = max(self.min, max_limit)
        self.limit = float(min(max(settings.start, self.min), self.max))
        self.slow_start = True  # double per round until the first sign of a limit
        self.ceiling: float | None = None  # the limit when it was last cut
        self._clock = clock
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._first: dict[int, float] = {}
        self._tickets = 0
        self.no_load: float | None = None
        self._answers = 0  # since the last change: one round is `current()` answers
        self._since_cut = 1 << 30
        self.trace: list[tuple[float, int]] = []  # (time, limit) at the start and each change
        self.rate_limited = 0

    def start(self) -> None:
        self.trace = [(self._clock(), self.current())]

    def current(self) -> int:
        return int(self.limit)

    def ticket(self) -> int:
        """Number a call as it starts: the no-load level is taken over the first calls by
        start, not by answer, since the first answers of a cohort are its fastest."""
        self._tickets += 1
        return self._tickets

    def _set(self, limit: float) -> None:
        before = self.current()
        self.limit = min(float(self.max), max(float(self.min), limit))
        self._answers = 0
        if self.current() != before:
            self.trace.append((self._clock(), self.current()))

    def _cut(self) -> None:
        self.slow_start = False
        self.ceiling = self.limit
        self._since_cut = 0
        self._recent.clear()  # judge the new limit by its own answers, not the old queue's
        self._set(self.limit * CUT)

    def on_answer(self, seconds: float, ticket: int = 0) -> None:
        """A call answered after ``seconds`` (queueing included)."""
        self._recent.append(seconds)
        self._answers += 1
        self._since_cut += 1
        if 0 < ticket <= BASELINE and self.no_load is None:
            self._first[ticket] = seconds
            if len(self._first) == BASELINE:
                self.no_load = statistics.median(self._first.values())
        if self._answers < self.current():
            return  # decide once per round
        if self.no_load is not None:
            if len(self._recent) < 8:
                return  # too few answers since the last cut to judge
            level = statistics.median(self._recent)
            self.no_load = min(self.no_load, level)  # a quieter moment lowers it, never raises
            if level > QUEUEING * self.no_load:
                self._cut()
                return
        if self.slow_start:
            self._set(self.limit * 2)
        elif self.ceiling is not None and self.limit >= 0.9 * self.ceiling:
            self._set(self.limit + PROBE)  # near where it hurt last: probe gently
        else:
            self._set(self.limit + 1)

    def on_rate_limited(self) -> None:
        """A 429: cut, at most once per round of answers after the last cut (the calls that
        were already in flight then say nothing new)."""
        self.rate_limited += 1
        if self._since_cut >= self.current():
            self._cut()


class Gate:
    """Every attempt, retries included, takes a slot under the controller's limit: after a
    429 the calls already admitted wait here for room instead of spending their retries."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self.limit = limit
        self.active = 0
        self.probing = False  # after a 429: one call at a time until one gets through
        self._cond: asyncio.Condition | None = None
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The provider said "retry after": nobody calls it before then, not only the call
        that heard it, so the calls waiting here do not all meet the same full window."""
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + max(0.0, seconds))

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        cond = self._cond = self._cond or asyncio.Condition()
        loop = asyncio.get_running_loop()
        while (wait := self._paused_until - loop.time()) > 0:
            await asyncio.sleep(wait)
        async with cond:
            await cond.wait_for(lambda: self.active < (1 if self.probing else self.limit()))
            self.active += 1
        try:
            yield
        except RateLimitedError:
            self.probing = True  # the provider is full: test it with one call, not all
            raise
        else:
            self.probing = False
        finally:
            async with cond:
                self.active -= 1
                cond.notify_all()
