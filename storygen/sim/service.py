"""Serving a call: a slot, its pace, and giving up as soon as the client goes.

The same for a plain answer (wait for the whole work, then answer) and a streamed one
(send each piece when its share of the work is done), so a streamed call takes as long
as a plain one and holds its slot until its last chunk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.types import Receive

from storygen.backends.simulated import Slots
from storygen.sim.compute import ComputeShare
from storygen.sim.config import SimServerConfig
from storygen.sim.pace import Pace, WallPace
from storygen.sim.state import SimRequest, SimServerState

Work = Callable[[Pace], Awaitable[None]]


async def _client_gone(receive: Receive) -> None:
    """Return once the client has closed the connection; the body was read before."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Service:
    """Calls served in ``capacity`` slots (first come, first served), each at its pace:
    wall-clock, or a share of one compute when the server is compute-bound."""

    def __init__(self, config: SimServerConfig, state: SimServerState) -> None:
        capacity = config.capacity
        self._slots = Slots(capacity) if capacity is not None else None
        self._share = ComputeShare(config.compute_gain) if config.compute_bound else None
        self._state = state

    def _pace(self, work_s: float) -> Pace:
        return self._share.pace(work_s) if self._share is not None else WallPace(work_s)

    async def _hold(self, seen: SimRequest, work_s: float, work: Work) -> None:
        """Queue for a slot, then hold it while ``work`` runs at the call's pace."""
        state, slots = self._state, self._slots
        arrived = time.monotonic()
        if slots is not None and await slots.acquire():
            seen.queued_s = time.monotonic() - arrived
        state.in_service += 1
        state.max_in_service = max(state.max_in_service, state.in_service)
        seen.work_s = work_s
        began = time.monotonic()
        pace = self._pace(work_s)
        try:
            await work(pace)
        finally:
            pace.close()
            seen.served_s = time.monotonic() - began
            state.in_service -= 1
            if slots is not None:
                slots.release()

    async def serve(self, receive: Receive, seen: SimRequest, work_s: float, work: Work) -> bool:
        """Serve, or stop as soon as the client goes: False if it went."""
        served = asyncio.ensure_future(self._hold(seen, work_s, work))
        gone = asyncio.ensure_future(_client_gone(receive))
        try:
            await asyncio.wait({served, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (served, gone):
                task.cancel()
            await asyncio.gather(served, gone, return_exceptions=True)
        if served.cancelled():
            seen.cancelled = True
            self._state.cancelled += 1
            return False
        served.result()  # a bug in serving is a 500, not a cancellation
        return True
