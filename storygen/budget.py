"""One budget of calls in flight shared by many scripts (bulk runs).

Each script keeps its own strategy and window; the budget caps what they send together,
so a hundred scripts never put a hundred windows of calls on one provider at once.

A freed slot goes to the waiting call of the script with the smallest priority (its row),
not to the longest waiter: scripts then finish one after another, in order, instead of
all together at the very end. The budget stays as full, the first scripts are done early,
and their memory and their end-of-script writes are spread over the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass


class Budget:
    """At most ``limit`` calls in flight across every run that shares it."""

    def __init__(self, limit: int) -> None:
        if not 1 <= limit <= 10_000:
            raise ValueError(f"the calls in flight must be between 1 and 10000 (got {limit})")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0  # the most ever in flight: what a test or the summary checks
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # first come, first served within one priority

    def share(self, priority: int) -> Share:
        """The budget as one run sees it: its calls wait with this priority."""
        return Share(self, priority)

    @contextlib.asynccontextmanager
    async def slot(self, priority: int = 0) -> AsyncIterator[None]:
        if self.in_flight < self.limit:
            self.in_flight += 1
        else:
            future = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (priority, next(self._order), future))
            try:
                await future  # the slot is handed over: in_flight already counts it
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed a slot, then cancelled: pass it on
                raise
        self.peak = max(self.peak, self.in_flight)
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():  # a cancelled waiter left its entry behind
                future.set_result(None)
                return
        self.in_flight -= 1


@dataclass(frozen=True)
class Share:
    """What the engine holds: ``slot()`` of the shared budget at one run's priority."""

    budget: Budget
    priority: int

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.budget.slot(self.priority)

    @property
    def in_flight(self) -> int:
        return self.budget.in_flight
