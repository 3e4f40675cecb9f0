"""Where a run's results go as it runs: its run directory, or nowhere (a NullSink), so the
engine never asks whether there is a directory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from storygen.core.errors import StoreError
from storygen.core.models import Bible, Outline, Scene, SceneTiming, Script
from storygen.store import RunDir

log = logging.getLogger("storygen")


class Sink(Protocol):
    @property
    def run_id(self) -> str: ...

    @property
    def path(self) -> str | None: ...

    def writer(self) -> contextlib.AbstractContextManager[None]: ...

    def save_outline(self, outline: Outline) -> None: ...

    def save_bible(self, bible: Bible) -> None: ...

    def append(self, scene: Scene, timing: SceneTiming) -> None: ...

    def pin(self, index: int, summary: str) -> None: ...

    def mark(
        self, status: str, error: str | None, scenes_done: int, wall_time_s: float
    ) -> None: ...

    async def finish(self, script: Script) -> None: ...

    async def close(self) -> None: ...


class NullSink:
    """A run kept in memory only (notebooks, tests): nothing is written."""

    run_id = ""
    path: str | None = None

    def writer(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def save_outline(self, outline: Outline) -> None:
        pass

    def save_bible(self, bible: Bible) -> None:
        pass

    def append(self, scene: Scene, timing: SceneTiming) -> None:
        pass

    def pin(self, index: int, summary: str) -> None:
        pass

    def mark(self, status: str, error: str | None, scenes_done: int, wall_time_s: float) -> None:
        pass

    async def finish(self, script: Script) -> None:
        pass

    async def close(self) -> None:
        pass


class RunDirSink:
    """A run directory: every scene on disk before anyone is told it is done."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    @property
    def run_id(self) -> str:
        return self.run_dir.run_id

    @property
    def path(self) -> str | None:
        return str(self.run_dir.path)

    def writer(self) -> contextlib.AbstractContextManager[None]:
        return self.run_dir.writer()

    def save_outline(self, outline: Outline) -> None:
        self.run_dir.save_outline(outline)

    def save_bible(self, bible: Bible) -> None:
        self.run_dir.save_bible(bible)

    def append(self, scene: Scene, timing: SceneTiming) -> None:
        self.run_dir.append(scene, timing)

    def pin(self, index: int, summary: str) -> None:
        self.run_dir.pin(index, summary)

    def mark(self, status: str, error: str | None, scenes_done: int, wall_time_s: float) -> None:
        """Status on disk where that is still possible: a full disk must not hide the cause."""
        try:
            self.run_dir.set_status(
                status, error=error, scenes_done=scenes_done, wall_time_s=wall_time_s
            )
        except StoreError as exc:
            log.warning("%s; the run's status on disk is stale", exc)

    async def finish(self, script: Script) -> None:
        # in a thread: fsyncs must not stall the other runs of a bulk run
        await asyncio.to_thread(self.run_dir.finish, script)

    async def close(self) -> None:
        # an fsync: off the loop, where other runs may be waiting
        await asyncio.to_thread(self.run_dir.close)


def sink_for(run_dir: RunDir | None) -> Sink:
    return RunDirSink(run_dir) if run_dir is not None else NullSink()
