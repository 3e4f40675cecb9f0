"""One budget of calls in flight shared by many scripts (bulk runs).

Each script keeps its own strategy and window; the budget caps what they send together,
so a hundred scripts never put a hundred windows of calls on one provider at once.

Freed slots go to the longest waiter (first come, first served), so every script moves
on at the same pace. Handing them to the first rows instead makes scripts finish in
order, but then the last rows start late and, held to their own window, trail on alone:
at 200 in flight that cost 12 and 3 points of throughput at 0.5 and 0.25 s calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from storygen.core.bounds import IN_FLIGHT


class Budget:
    """At most ``limit`` calls in flight across every run that shares it."""

    def __init__(self, limit: int) -> None:
        if limit not in IN_FLIGHT:
            raise ValueError(
                f"the calls in flight must be between {IN_FLIGHT.low} and {IN_FLIGHT.high} "
                f"(got {limit})"
            )
        self.limit = limit
        self.in_flight = 0
        self.peak = 0  # the most ever in flight: what a test or the summary checks
        self._semaphore = asyncio.Semaphore(limit)  # FIFO, and a cancelled waiter passes on

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._semaphore:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
