"""The pure admission state shared by the real engine and the ideal-makespan model.

Keeping it free of asyncio and clocks means the "ideal" schedule is computed by
the very rules the engine obeys, on a virtual clock.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Mapping

from storygen.scheduling.strategies import Progress, Strategy


class Scheduler:
    """Which scene starts next; every call is O(1) amortised so 10,000 scenes stay cheap."""

    def __init__(
        self,
        strategy: Strategy,
        total: int,
        done: Iterable[int] = (),
        cap: Callable[[], int] | None = None,
        known: Iterable[int] = (),
    ) -> None:
        """``known``: scenes not done whose summary later scenes were already told (a
        resumed pipelined run's pinned summaries)."""
        self.strategy = strategy
        self.cap = cap  # an adaptive run's current limit on calls in flight
        self.total = total
        self.progress = Progress()
        self._done = bytearray(total + 1)  # index k for scene k; 0 unused
        self._known = bytearray(total + 1)  # scene k's summary is known: done, or released
        self._predone = sorted(set(done))
        for k in self._predone:
            self._done[k] = self._known[k] = True
        self.done_count = len(self._predone)
        self._preknown = sorted({*self._predone, *known})
        for k in self._preknown:
            self._known[k] = True
        self.known_count = len(self._preknown)
        self._next = 1
        self._skip_done()
        self._advance_prefix()
        self.stopped = False

    def _skip_done(self) -> None:
        while self._next <= self.total and self._done[self._next]:
            self._next += 1

    def _advance_prefix(self) -> None:
        p = self.progress
        while p.prefix < self.total and self._done[p.prefix + 1]:
            p.prefix += 1
        while p.summarized < self.total and self._known[p.summarized + 1]:
            p.summarized += 1

    @property
    def finished(self) -> bool:
        return self.done_count == self.total

    @property
    def idle(self) -> bool:
        return self.progress.in_flight == 0

    def outline_done(self) -> None:
        self.progress.outline_done = True

    def stop(self) -> None:
        """After a failure: admit nothing more; calls in flight may still finish."""
        self.stopped = True

    def startable(self) -> list[int]:
        """Admit, in index order, every scene the rules allow right now."""
        out: list[int] = []
        s, p = self.strategy, self.progress
        limit = s.concurrency if self.cap is None else min(s.concurrency, self.cap())
        while (
            not self.stopped
            and self._next <= self.total
            and p.in_flight < limit
            and s.may_start(self._next, p)
        ):
            out.append(self._next)
            p.in_flight += 1
            self._next += 1
            self._skip_done()
        return out

    def context_lag(self, k: int) -> int:
        """Scenes 1..k-1 whose summary is not known now (not done, nor released by a
        pipelined call); admission is in order, so later known ones are pre-done."""
        later_known = len(self._preknown) - bisect.bisect_left(self._preknown, k)
        return (k - 1) - (self.known_count - later_known)

    def context_upto(self, k: int) -> int:
        return self.strategy.context_upto(k, self.progress)

    def summary_known(self, k: int) -> None:
        """Scene k's summary streamed in before its answer was complete (pipelined only:
        other rules wait for whole scenes)."""
        if not self._known[k]:
            self._known[k] = True
            self.known_count += 1
            self._advance_prefix()

    def finish(self, k: int) -> None:
        self.summary_known(k)
        self._done[k] = True
        self.done_count += 1
        self.progress.in_flight -= 1
        self._advance_prefix()

    def is_done(self, k: int) -> bool:
        return bool(self._done[k])

    def abandon(self, k: int) -> None:
        """A scene that failed for good leaves the flight without being done."""
        self.progress.in_flight -= 1


_SUMMARY, _FINISH = 0, 1  # at one instant, a summary is known before a call ends


def ideal_makespan(
    strategy: Strategy,
    service: Mapping[int, float],
    outline_s: float = 0.0,
    done: Iterable[int] = (),
    summary_after: Mapping[int, float] | None = None,
) -> float:
    """The strategy's schedule with zero overhead, for the given per-scene call times;
    a pipelined rule also needs each scene's time to summary (``summary_after``, seconds
    after its call started; missing: known only when the call ends)."""
    total = max([*service, *done], default=0)
    sched = Scheduler(strategy, total, done)
    now = 0.0
    if strategy.needs_outline:
        now = outline_s
        sched.outline_done()
    pipelines = getattr(strategy, "pipelines", False)  # a rule written before pipelining
    early = summary_after if pipelines and summary_after else {}
    running: list[tuple[float, int, int]] = []
    while not sched.finished:
        for k in sched.startable():
            heapq.heappush(running, (now + service[k], _FINISH, k))
            if k in early:
                heapq.heappush(running, (now + min(early[k], service[k]), _SUMMARY, k))
        if not running:  # pragma: no cover - only reachable with a broken rule
            raise RuntimeError("ideal schedule stalled")
        now, kind, k = heapq.heappop(running)
        if kind == _SUMMARY:
            sched.summary_known(k)
        else:
            sched.finish(k)
    return now
