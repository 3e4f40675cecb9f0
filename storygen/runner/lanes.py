"""The one lane runner: several runs (lanes) on one event loop, each written the same way.

A lane takes its run's writer lock, reads what an earlier attempt wrote (on resume), then
hands the request to the engine. ``resume()``, the app's child process, ``compare()`` and
``sweep()``, and bulk runs all write their runs through ``run_lane``; ``Lanes`` hands out
turns when only some of them may write at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from storygen.core.errors import StoreError
from storygen.core.models import Script, ScriptRequest
from storygen.core.spend import SpendCap
from storygen.core.tasks import Backend
from storygen.engine import Prior, run_async
from storygen.engine.events import Subscriber
from storygen.policies.budget import Budget
from storygen.policies.retry import RetryPolicy
from storygen.store import RunDir

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaneRun:
    """One lane: the request, the backend that writes it, and the run directory, if any.

    ``resume`` continues the run from what it already holds. A backend shared by many lanes
    (bulk: one key pool, one rate limiter) is closed by its owner: ``close_backend=False``.
    """

    request: ScriptRequest
    backend: Backend
    run_dir: RunDir | None = None
    resume: bool = False
    subscribers: Sequence[Subscriber] = ()
    policy: RetryPolicy | None = None
    budget: Budget | None = None
    close_backend: bool = True
    spend: SpendCap | None = None  # what this lane may spend (--max-cost)


async def run_lane(lane: LaneRun) -> Script:
    """Write one lane to the end; raises RunFailedError with the failing scene.

    The lock comes before the reading: nobody else may add to the run between what is read
    as done and what is written next (a second writer would pay for the same scenes).
    """
    run_dir = lane.run_dir
    engine_started = False
    try:
        with run_dir.writer() if run_dir is not None else contextlib.nullcontext():
            prior = None
            if lane.resume and run_dir is not None:  # off the loop: other lanes may be running
                prior = await asyncio.to_thread(Prior.for_resume, run_dir)
            engine_started = True
            return await run_async(
                lane.request,
                lane.backend,
                policy=lane.policy,
                subscribers=lane.subscribers,
                run_dir=run_dir,
                prior=prior,
                budget=lane.budget,
                close_backend=lane.close_backend,
                spend=lane.spend,
            )
    finally:
        if not engine_started and lane.close_backend:  # the engine closes it once it runs
            aclose = getattr(lane.backend, "aclose", None)
            if aclose is not None:
                await aclose()


class Lanes:
    """Lanes on one event loop, at most ``at_once`` of them holding a turn (every lane when
    None). Turns go in the order they were asked for, so the first lanes start first."""

    def __init__(self, at_once: int | None = None) -> None:
        self._gate = asyncio.Semaphore(at_once) if at_once else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn: what a lane does inside it counts against ``at_once``."""
        if self._gate is None:
            yield
            return
        async with self._gate:
            yield

    @staticmethod
    async def gather(lanes: Iterable[Awaitable[T]]) -> list[T]:
        """Every lane at once; their outcomes in the order given."""
        return list(await asyncio.gather(*lanes))


def mark_interrupted(run_dir: RunDir) -> None:
    """A run whose lane was cancelled before its engine could say so: "interrupted" on disk,
    with the scenes it kept, so that resume finishes it. One the engine already marked stays
    as is."""
    try:
        if run_dir.status().get("status") == "running":
            run_dir.set_status(
                "interrupted",
                error="cancelled before it started; resume finishes it",
                scenes_done=len(run_dir.load_checkpoint()),
            )
    except (StoreError, OSError) as exc:  # the lane must still end; the Runs page shows the rest
        log.warning("could not mark %s interrupted: %s", run_dir.path, exc)
