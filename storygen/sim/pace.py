"""How far a call being served has got: the clock an answer, streamed or not, is sent by.

A call's drawn latency is its *work*: the seconds it takes served alone. A pace turns
"this share of the work is done" into a wait. On a server with slots of their own (the
default) the work is done at wall-clock speed; on a compute-bound server (compute.py)
the calls in service share one compute, so each one's work goes slower as more run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Pace(Protocol):
    """One call's progress through its work (``work_s`` seconds served alone)."""

    work_s: float

    async def until(self, fraction: float) -> None:
        """Return once ``fraction`` of the work is done (above 1: an answer that runs
        on past its drawn length, such as a runaway)."""

    async def stall(self, seconds: float) -> None:
        """Send nothing and do no work for ``seconds`` (real seconds), then go on."""

    def close(self) -> None:
        """The call left service: it no longer takes a share of anything."""


class WallPace:
    """Work done at wall-clock speed from the moment service began."""

    def __init__(self, work_s: float) -> None:
        self.work_s = work_s
        self._start = time.monotonic()

    async def until(self, fraction: float) -> None:
        # uvloop's timers may fire up to a millisecond early: wait out the rest
        while (delay := self._start + fraction * self.work_s - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def stall(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._start += seconds

    def close(self) -> None:
        pass
