"""Hedged (backup) calls for the tail: a scene call that has run longer than the hedge delay
gets a duplicate; the first valid answer wins and the other calls are cancelled. A backup
that runs past the delay too gets one more backup, since a stuck provider can hold a backup
as well as the call it backs up.

This is Dean & Barroso's "The Tail at Scale" (backup requests after a high percentile), with
Finagle's BackupRequestFilter's two safeguards: the delay follows the call times observed in
this run, and a budget caps the extra load, so a slow provider is never sent twice the calls.
A hedge is not a retry: each attempt may be hedged, and a failed attempt is still retried.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from storygen.core.models import HedgeSettings
from storygen.core.tasks import Generation

T = TypeVar("T")

# Until this many calls are known, the delay is FALLBACK x their median; then it is FACTOR x
# their PERCENTILE. For lognormal calls with sigma 0.35 that is ~2.8x the median: about 0.2%
# of ordinary calls get a backup, and a hung call (30x the median) always does. Calls still
# running count with the time they have run so far: otherwise the first answers, which are
# the fastest of their cohort, would make every later call look slow.
MIN_SAMPLES = 20
FALLBACK = 3.0
PERCENTILE = 0.90
FACTOR = 1.75
LAST_FACTOR = 2.5  # the budget's last backup: ~4x the median, which an ordinary call never is
COPIES = 3  # a call and at most two backups: the second only if the first hangs too
FLOOR_S = 0.1  # never sooner: a busy event loop must not look like a hung provider
# A saturated server (a queue, or slots sharing one compute) makes every call slower, and a
# backup there only competes with its own primary: no backup starts while the median of the
# last RECENT answers is INFLATED x that of the first EARLY. A hung call is one answer among
# them, so it moves neither median.
EARLY = 8
RECENT = 8
INFLATED = 1.6


@dataclass(frozen=True)
class Hedged(Generic[T]):
    """A call's answer, and which of its copies gave it."""

    generation: Generation[T]
    seconds: float = 0.0  # from the primary's start to the winning answer
    after: tuple[float, ...] = (0.0,)  # when each copy started, after the primary
    winner: int = 0  # 0: the primary; 1 or 2: a backup

    @property
    def backups(self) -> int:
        return len(self.after) - 1

    @property
    def backup_won(self) -> bool:
        return self.winner > 0

    @property
    def backup_after_s(self) -> float | None:
        """When the first backup started, after the primary; None without one."""
        return self.after[1] if self.backups else None

    @property
    def winner_after_s(self) -> float:
        return self.after[self.winner]


class Hedger:
    """One per run: what calls took so far, the delay that follows, and the budget left."""

    def __init__(self, settings: HedgeSettings, planned_calls: int) -> None:
        self.settings = settings
        self.planned = planned_calls
        self.samples: list[float] = []
        self._running: dict[int, float] = {}  # primary calls in flight: their start
        self.calls = 0
        self.hedges = 0
        self._changed = asyncio.Event()

    def delay(self, now: float | None = None) -> float | None:
        """Seconds a call may run before its backup starts; None while nothing is known."""
        if self.settings.after_s is not None:
            return self.settings.after_s
        if len(self.samples) < 3:
            return None  # too little to tell a slow call from an ordinary one
        # a running call counts as at least this slow, but no slower: two hung calls among
        # twenty, counted with their whole age, were the percentile, and so their own delay
        surely_slow = FALLBACK * statistics.median(self.samples)
        running = [] if now is None else [now - s for s in self._running.values()]
        known = self.samples + [min(age, surely_slow) for age in running]
        # the budget's last backup is kept for a call that is surely stuck, not merely slow:
        # spent on an ordinary slow call, it leaves the next hang to run its whole length
        last = LAST_FACTOR / FACTOR if self._left() == 1 else 1.0
        if len(known) < MIN_SAMPLES:
            return max(FLOOR_S, last * FALLBACK * statistics.median(known))
        ranked = sorted(known)
        p = ranked[min(len(ranked) - 1, int(PERCENTILE * len(ranked)))]
        return max(FLOOR_S, last * FACTOR * p)

    def _left(self) -> int:
        """Backups the budget still allows: a share of all calls (at least of those
        planned), and one even in a run too short for a share to reach one."""
        share = math.floor(self.settings.budget * max(self.calls, self.planned))
        allowed = max(1, share) if self.settings.budget > 0 else 0
        return allowed - self.hedges

    def may_hedge(self) -> bool:
        return self._left() > 0

    def saturated(self) -> bool:
        """Call times inflated well above their early level: the server is busy, not one
        call stuck."""
        if len(self.samples) < EARLY:
            return False
        early = statistics.median(self.samples[:EARLY])
        return statistics.median(self.samples[-RECENT:]) > INFLATED * early

    def record(self, seconds: float) -> None:
        self.samples.append(seconds)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # calls waiting for a delay look again

    async def call(self, make: Callable[[int], Awaitable[Generation[T]]]) -> Hedged[T]:
        """``make(0)`` is the primary call, ``make(1)`` and ``make(2)`` its backups."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.calls += 1
        primary: asyncio.Task[Generation[T]] = asyncio.ensure_future(make(0))
        copies = [primary]  # the primary, then its backups
        after = [0.0]  # when each copy started, after the primary
        running = {primary}
        self._running[id(primary)] = start
        first_error: BaseException | None = None
        try:
            while True:
                timeout: float | None = None
                wake: asyncio.Task[bool] | None = None
                if len(copies) < COPIES:
                    delay = self.delay(loop.time())
                    if delay is not None and self.may_hedge() and not self.saturated():
                        # the newest copy gets the delay too: a backup can hang as well
                        timeout = start + after[-1] + delay - loop.time()
                        if timeout <= 0:
                            after.append(loop.time() - start)
                            copies.append(asyncio.ensure_future(make(len(copies))))
                            running.add(copies[-1])
                            self.calls += 1
                            self.hedges += 1
                            continue
                    wake = asyncio.ensure_future(self._changed.wait())  # the delay may move
                waiting: set[asyncio.Future[Any]] = {*running, *([wake] if wake else [])}
                done, _ = await asyncio.wait(
                    waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if wake is not None:
                    wake.cancel()
                for task in [t for t in list(running) if t in done]:
                    running.discard(task)
                    error = task.exception()
                    if error is None:
                        seconds = loop.time() - start
                        i = copies.index(task)
                        self.record(seconds - after[i])  # the winner's own time
                        return Hedged(task.result(), seconds, tuple(after), winner=i)
                    first_error = first_error or error
                if first_error is not None and (not running or len(copies) == 1):
                    # every copy failed, or a primary failed before any backup: the retry
                    # policy decides (a failed call is retried, not hedged)
                    raise first_error
        finally:
            self._running.pop(id(primary), None)
            for task in running:
                task.cancel()  # the loser: its HTTP request is closed with its task
            if running:
                await asyncio.gather(*running, return_exceptions=True)
