"""Adaptive concurrency: find a provider's limit from what it says, instead of asking the
user to know it.

The controller is TCP congestion control applied to calls in flight (AIMD with a Vegas-style
delay signal, as in Netflix's concurrency-limits): it grows while call times stay near their
no-load level and no 429 comes, and backs off multiplicatively on a 429 or when call times
inflate, which is what a queue in front of the model looks like. Decisions are made once per
"round" (as many answers as calls in flight), so one slow cohort is not punished twice.

A limit on requests per minute is not a queue: it answers 429 long before call times
inflate. So the gate also learns the provider's request window from its first 429 and
Retry-After, and from then on lets calls out only as that window has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from storygen.core.errors import RateLimitedError
from storygen.core.models import AdaptiveSettings

QUEUEING = 1.5  # recent call times this far above their no-load level mean a queue
BASELINE = 16  # the first calls started set the no-load level, once every one has answered
RECENT = 16  # answers whose median is compared with it
CUT = 0.7  # multiplicative decrease, as TCP CUBIC's beta
PROBE = 0.25  # growth per round once near the limit that was last cut
# Quieter moments lower the no-load level, but by a low quantile of the rounds' medians,
# not their minimum: a median of a few answers is noisy, and the lowest of dozens of them
# sits well below the true level, so ordinary answers would then look like a queue.
LEVELS = 64
QUIET = 0.25


def _quantile(values: deque[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[int(q * (len(ranked) - 1))]


class Controller:
    """How many calls may be in flight now; fed every call's time and every 429."""

    def __init__(
        self,
        settings: AdaptiveSettings,
        max_limit: int,
        clock: Callable[[], float] = time.monotonic,
        batches: bool = False,
    ) -> None:
        self.batches = batches  # the limit sizes whole batches, each waiting for its last
        self.min = settings.min_concurrency
        self.max = max(self.min, max_limit)
        self.limit = float(min(max(settings.start, self.min), self.max))
        self.slow_start = True  # double per round until the first sign of a limit
        self.last_good: float | None = None  # in slow start: the level before the doubling
        self.ceiling: float | None = None  # the limit when it was last cut
        self._clock = clock
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._first: dict[int, float] = {}
        self._tickets = 0
        self.no_load: float | None = None
        self._baseline: float | None = None
        self._levels: deque[float] = deque(maxlen=LEVELS)  # each round's median call time
        self._answers = 0  # since the last change: one round is `current()` answers
        self._since_cut = 1 << 30
        self._cut_ticket = 0  # calls started before the last cut: the old queue's answers
        self.trace: list[tuple[float, int]] = []  # (time, limit) at the start and each change
        self.rate_limited = 0
        self.window: LearnedWindow | None = None  # the gate's, when it has one

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
        """Back off. In slow start the level before the last doubling got through without
        a sign of a limit, so that is where to go back to: a 0.7 cut of a level twice too
        high would still be 40% too high and need a second 429."""
        back_to = self.limit * CUT
        if self.slow_start and self.last_good is not None:
            back_to = min(back_to, self.last_good)
        self.slow_start = False
        self.ceiling = self.limit
        self._since_cut = 0
        self._cut_ticket = self._tickets
        self._recent.clear()  # judge the new limit by its own answers, not the old queue's
        self._set(back_to)

    def on_answer(self, seconds: float, ticket: int = 0) -> None:
        """A call answered after ``seconds`` (queueing included)."""
        self._since_cut += 1
        if 0 < ticket <= BASELINE and self.no_load is None:
            self._first[ticket] = seconds
            if len(self._first) == BASELINE:
                self.no_load = self._baseline = statistics.median(self._first.values())
        if 0 < ticket <= self._cut_ticket:
            # sent before the last cut, it waited in the queue that cut was about: judging
            # the new limit by it would cut again, and again, while the queue drains
            return
        self._recent.append(seconds)
        self._answers += 1
        if self._answers < self.current():
            return  # decide once per round
        if self.no_load is not None:
            if len(self._recent) < 8:
                return  # too few answers since the last cut to judge
            level = statistics.median(self._recent)
            self._levels.append(level)
            if len(self._levels) >= LEVELS // 8:
                self.no_load = min(self._baseline or level, _quantile(self._levels, QUIET))
            if level > QUEUEING * self.no_load:
                self._cut()
                return
        if self.slow_start:
            self.last_good = self.limit
            self._set(self.limit * 2)
        elif self.ceiling is not None and self.limit >= 0.9 * self.ceiling:
            self._set(self.limit + PROBE)  # near where it hurt last: probe gently
        else:
            self._set(self.limit + 1)

    def on_rate_limited(self) -> None:
        """A 429: cut, at most once per round of answers after the last cut (the calls that
        were already in flight then say nothing new). Once the gate has learned the
        provider's request window, the window spaces the calls and a later 429 corrects
        it: halving the calls in flight as well would only leave the window unused."""
        self.rate_limited += 1
        if self.window is not None and self.window.size is not None:
            self.slow_start = False  # the limit is found: no more doubling into it
            if self.batches and self.limit < self.window.size:
                # the window spaces the calls now, so a batch as large as it holds costs
                # the provider nothing more, and each batch's wait for its last call is
                # shared by more calls (throughput 85% -> 91% of the provider's limit)
                self._set(float(self.window.size))
            return
        if self._since_cut >= self.current():
            self._cut()


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


class Gate:
    """Every attempt, retries included, takes a slot under the controller's limit and,
    once a 429 has taught it, room in the provider's request window: after a 429 the calls
    already admitted wait here for room instead of spending their retries.

    Calls are admitted one at a time under a lock, each booking its place in the window,
    so when room comes back it is not rushed by everyone who was waiting for it.
    """

    def __init__(self, limit: Callable[[], int], controller: Controller | None = None) -> None:
        self.limit = limit
        self.active = 0
        # after a 429 with no Retry-After to learn from: this many at a time, doubling with
        # each call that gets through, so the provider is tested by one call, then ramped
        self.ramp: int | None = None
        self.window = LearnedWindow(self._now)
        # the engine passes the controller's ``current``: the controller is found from it
        owner = getattr(limit, "__self__", None)
        controller = controller or (owner if isinstance(owner, Controller) else None)
        if controller is not None:
            controller.window = self.window  # a 429 the window answers is not cut twice
        self.controller = controller
        self._cond: asyncio.Condition | None = None
        self._paused_until = 0.0
        self._last_start = float("-inf")

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def probing(self) -> bool:
        return self.ramp == 1

    def pause(self, seconds: float) -> None:
        """The provider said "retry after": nobody calls it before then, not only the call
        that heard it, so the calls waiting here do not all meet the same full window."""
        self._paused_until = max(self._paused_until, self._now() + max(0.0, seconds))

    def _wait(self) -> float | None:
        """0 when a call may start now, else how long to wait (None: until a call ends)."""
        allowed = self.limit() if self.ramp is None else min(self.ramp, self.limit())
        if self.active >= allowed:
            return None
        now = self._now()
        return max(self._paused_until - now, self.window.room_in(), self._pace(now), 0.0)

    def _pace(self, now: float) -> float:
        """In slow start, the calls a doubling allows leave spread over a call time, not in
        one burst: a burst that crosses a provider's limit is refused whole before its
        first 429 comes back (paced slow start, as in TCP). Not in batched runs: a batch
        starts at once, the strategy's own rhythm."""
        c = self.controller
        if c is None or c.batches or not c.slow_start or c.no_load is None:
            return 0.0
        return self._last_start + c.no_load / max(1, c.current()) - now

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        cond = self._cond = self._cond or asyncio.Condition()
        async with cond:
            while (wait := self._wait()) != 0.0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cond.wait(), timeout=wait)
            self.active += 1
            self._last_start = self._now()
            start = self.window.start()
        try:
            yield
        except RateLimitedError as exc:
            if not self.window.refused(start, exc.retry_after):
                self.ramp = 1  # the provider is full and said nothing more: test it
            raise
        else:
            start.answered_at = self._now()
            if self.ramp is not None:
                self.ramp = None if self.ramp * 2 >= self.limit() else self.ramp * 2
        finally:
            async with cond:
                self.active -= 1
                cond.notify_all()
