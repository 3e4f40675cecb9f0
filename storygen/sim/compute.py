"""A compute-bound server: its calls in service share one fixed compute.

Like llama.cpp on a laptop CPU: with n calls in service the server's total speed is
g(n) = min(n, gain) times one call's solo speed, shared equally (processor sharing), so
each call advances at g(n)/n of its solo speed. Total token throughput then rises little
with calls in flight, while every call's latency grows: what adaptive concurrency and
hedging must recognise. The shares are recomputed whenever a call joins or leaves.
"""

from __future__ import annotations

import asyncio
import time

_DONE = 1e-6  # seconds of work close enough to the target: timers fire a little early


class ComputeShare:
    """One server's compute, shared by the calls in service."""

    def __init__(self, gain: float) -> None:
        self.gain = gain
        self._active: list[SharedPace] = []
        self._at = time.monotonic()
        self._changed: asyncio.Future[None] | None = None

    @property
    def in_service(self) -> int:
        return len(self._active)

    def speed(self) -> float:
        """Each active call's speed, as a share of its solo speed: g(n)/n."""
        n = len(self._active)
        return min(n, self.gain) / n if n else 0.0

    def advance(self) -> None:
        """Credit every active call with the work done since the last change."""
        now = time.monotonic()
        step = (now - self._at) * self.speed()
        for pace in self._active:
            pace.done += step
        self._at = now

    def join(self, pace: SharedPace) -> None:
        self.advance()
        self._active.append(pace)
        self._wake()

    def leave(self, pace: SharedPace) -> None:
        if pace in self._active:
            self.advance()
            self._active.remove(pace)
            self._wake()

    def changed(self) -> asyncio.Future[None]:
        """Done at the next join or leave, when every waiter must recompute its wait."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    def _wake(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    def pace(self, work_s: float) -> SharedPace:
        """A call entering service with ``work_s`` seconds of solo work."""
        return SharedPace(self, work_s)


class SharedPace:
    """One call's progress on a shared compute (see ``Pace``)."""

    def __init__(self, share: ComputeShare, work_s: float) -> None:
        self.work_s = work_s
        self.done = 0.0  # seconds of solo work done so far
        self._share = share
        share.join(self)

    async def until(self, fraction: float) -> None:
        target = fraction * self.work_s
        while True:
            self._share.advance()
            left = target - self.done
            if left <= _DONE:
                return
            changed = self._share.changed()
            # a future, not a task: nothing is cancelled when the timeout comes first
            await asyncio.wait({changed}, timeout=left / self._share.speed())

    async def stall(self, seconds: float) -> None:
        self._share.leave(self)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._share.join(self)

    def close(self) -> None:
        self._share.leave(self)
