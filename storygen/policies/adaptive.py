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
from storygen.core.rate_headers import RateHeaders
from storygen.policies.header_pace import HeaderPace
from storygen.policies.learned_window import LearnedWindow, _Start
from storygen.policies.throughput import PlateauSearch, mean_level

__all__ = ["BASELINE", "CUT", "Controller", "Gate", "LearnedWindow", "_Start"]

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
        self.search = PlateauSearch()  # where more calls in flight stopped paying
        self._cold = self.current()
        self._round_start = 0.0
        self._served: list[float] = []  # every answer's time since the round started
        self.provider_paced = False  # the provider's rate-limit headers space the calls

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
        if ticket > self._cold:  # the first calls also open connections: not the server
            now = self._clock()
            self.search.times.answered(seconds, mean_level(self.trace, now - seconds, now))
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
        if not self._grows():
            return
        if self.slow_start:
            self.last_good = self.limit
            self._set(self.limit * 2)
        elif self.ceiling is not None and self.limit >= 0.9 * self.ceiling:
            self._set(self.limit + PROBE)  # near where it hurt last: probe gently
        else:
            self._set(self.limit + 1)

    def _grows(self) -> bool:
        """Whether the last round allows growing: only while throughput still rises with
        the level (``throughput.PlateauSearch``). A provider's rate limit is not the
        server's speed: once it shows, the window spaces the calls and growing costs
        nothing, so it is not searched for."""
        if self.rate_limited or self.provider_paced:
            return True
        was = self.search.level
        hold = self.search.next_level(self.current())
        if hold is None:
            if was is not None and self.ceiling is None:
                self.slow_start = True  # the plateau was a misreading: find the level fast
            return True
        if hold < self.current():  # as after a cut: the old level's queue is not news
            self.slow_start = False
            self._cut_ticket = self._tickets
            self._recent.clear()
        self._set(float(hold))
        return False

    def plateau(self) -> int | None:
        """Calls in flight beyond which the server got no faster; None: not seen."""
        return self.search.level

    def on_rate_limited(self) -> None:
        """A 429: cut, at most once per round of answers after the last cut (the calls that
        were already in flight then say nothing new). Once the gate has learned the
        provider's request window, the window spaces the calls and a later 429 corrects
        it: halving the calls in flight as well would only leave the window unused."""
        self.rate_limited += 1
        if self.provider_paced:  # the headers space the calls; a 429 is a clock's slip
            self.slow_start = False
            return
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
        self.headers = HeaderPace(self._now)  # once the provider's headers come: instead
        self._nudges: set[asyncio.Task[None]] = set()
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

    def observed(self, rate: RateHeaders) -> None:
        """An answer's rate-limit headers: from now on they pace the calls, not a window
        learned from 429s; calls waiting here look again."""
        self.headers.observed(rate)
        if self.controller is not None and self.headers.seen:
            self.controller.provider_paced = True
        if self._cond is not None:
            nudge = asyncio.get_running_loop().create_task(self._notify(self._cond))
            self._nudges.add(nudge)
            nudge.add_done_callback(self._nudges.discard)

    @staticmethod
    async def _notify(cond: asyncio.Condition) -> None:
        async with cond:
            cond.notify_all()

    def _wait(self) -> float | None:
        """0 when a call may start now, else how long to wait (None: until a call ends or
        an answer brings headers)."""
        allowed = self.limit() if self.ramp is None else min(self.ramp, self.limit())
        if self.active >= allowed:
            return None
        if (by_headers := self.headers.wait(self.active)) is None:
            return None
        now = self._now()
        window = 0.0 if self.headers.seen else self.window.room_in()
        return max(self._paused_until - now, window, self._pace(now), by_headers, 0.0)

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
            self.headers.started()
            start = self.window.start()
        try:
            yield
        except RateLimitedError as exc:
            if self.headers.seen:
                self.headers.refused()  # its Retry-After pauses the gate (AdaptiveLimit)
                raise
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
