"""Hedged (backup) calls for the tail: a scene call that has run longer than the hedge delay
gets one duplicate; the first valid answer wins and the other call is cancelled.

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

from storygen.backends.base import Generation
from storygen.models import HedgeSettings

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
FLOOR_S = 0.1  # never sooner: a busy event loop must not look like a hung provider


@dataclass(frozen=True)
class Hedged(Generic[T]):
    """A call's answer, and whether a backup ran and won."""

    generation: Generation[T]
    hedged: bool = False
    backup_won: bool = False
    backup_after_s: float | None = None  # when the backup started, after the primary
    seconds: float = 0.0  # from the primary's start to the winning answer


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

    def record(self, seconds: float) -> None:
        self.samples.append(seconds)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # calls waiting for a delay look again

    async def call(self, make: Callable[[int], Awaitable[Generation[T]]]) -> Hedged[T]:
        """``make(0)`` is the primary call, ``make(1)`` its backup."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.calls += 1
        primary: asyncio.Task[Generation[T]] = asyncio.ensure_future(make(0))
        running = {primary}
        self._running[id(primary)] = start
        backup: asyncio.Task[Generation[T]] | None = None
        backup_after: float | None = None
        first_error: BaseException | None = None
        try:
            while True:
                timeout: float | None = None
                wake: asyncio.Task[bool] | None = None
                if backup is None:
                    delay = self.delay(loop.time())
                    if delay is not None and self.may_hedge():
                        timeout = start + delay - loop.time()
                        if timeout <= 0:
                            backup_after = loop.time() - start
                            backup = asyncio.ensure_future(make(1))
                            running.add(backup)
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
                        won = task is backup
                        own = seconds - (backup_after or 0.0) if won else seconds
                        self.record(own)
                        return Hedged(task.result(), backup is not None, won, backup_after, seconds)
                    first_error = first_error or error
                if first_error is not None and (not running or backup is None):
                    # every copy failed, or a primary failed before any backup: the retry
                    # policy decides (a failed call is retried, not hedged)
                    raise first_error
        finally:
            self._running.pop(id(primary), None)
            for task in running:
                task.cancel()  # the loser: its HTTP request is closed with its task
            if running:
                await asyncio.gather(*running, return_exceptions=True)
