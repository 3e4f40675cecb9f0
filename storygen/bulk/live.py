"""Many scripts at once through the live API, under one budget of calls in flight.

Every script keeps its own strategy and run directory; what they share is the backend
(so one key pool and one RPM/TPM limiter) and a ``Budget`` that caps their calls in
flight together. At most ``scripts_at_once`` scripts are in progress (500 by default), so
memory follows the scripts being written, not the length of the spreadsheet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from storygen.bulk.folder import BulkDir, Entry, SummaryLine
from storygen.core.errors import StoryGenError
from storygen.core.models import ScriptRequest
from storygen.core.spend import SpendCap
from storygen.core.tasks import Backend
from storygen.engine.events import Event, RunFinished, SceneFinished, Subscriber
from storygen.policies.budget import Budget
from storygen.policies.retry import RetryPolicy
from storygen.runner.lanes import LaneRun, Lanes, run_lane
from storygen.runner.runs import run_sync
from storygen.store import RunDir

# Scripts in progress at once, at most: all of them progress together (see Budget), and
# each holds its written scenes (~7 KB each) until it is done
MAX_AT_ONCE = 500


@dataclass
class BulkProgress:
    """Scenes and scripts across the whole bulk run, fed by every script's events."""

    scenes_total: int = 0
    scenes_done: int = 0
    scripts_total: int = 0
    scripts_done: int = 0
    scripts_failed: int = 0
    budget: Budget | None = None
    listeners: list[Callable[[BulkProgress], None]] = field(default_factory=list)

    @property
    def in_flight(self) -> int:
        return self.budget.in_flight if self.budget else 0

    def for_row(self, row: int) -> Subscriber:
        def on_event(event: Event) -> None:
            if isinstance(event, SceneFinished):
                self.scenes_done += 1
            elif isinstance(event, RunFinished):
                self.scripts_done += 1
            else:
                return
            self.notify()

        return on_event

    def notify(self) -> None:
        for listener in self.listeners:
            listener(self)


@dataclass
class BulkResult:
    lines: list[SummaryLine]

    @property
    def failed(self) -> list[SummaryLine]:
        return [line for line in self.lines if line.status not in ("finished", "rejected")]

    @property
    def rejected(self) -> list[SummaryLine]:
        return [line for line in self.lines if line.status == "rejected"]


async def run_bulk_async(
    bulk: BulkDir,
    backend: Backend,
    *,
    max_in_flight: int,
    scripts_at_once: int | None = None,
    policy: RetryPolicy | None = None,
    progress: BulkProgress | None = None,
    spend: SpendCap | None = None,
) -> BulkResult:
    """Write (or finish) every script of ``bulk``; a script that fails does not stop the
    others, and the summary says why it failed. ``spend`` is one cap shared by every row:
    once it is reached, the rows still to start make no call and are left interrupted."""
    budget = Budget(max_in_flight)
    progress = progress or BulkProgress()
    progress.budget = budget
    entries = bulk.entries
    progress.scripts_total = len(entries)
    progress.scenes_total = sum(e.scenes for e in entries)
    progress.notify()
    policy = policy or RetryPolicy().scaled(getattr(backend, "time_scale", 1.0))
    lanes = Lanes(scripts_at_once or MAX_AT_ONCE)

    def load(entry: Entry) -> tuple[RunDir, ScriptRequest, bool]:
        """Read from disk in a thread, while the scripts already loaded run."""
        run_dir = bulk.run(entry)
        request = run_dir.request()
        if run_dir.status().get("status") == "finished":
            if not bulk.export_path(entry.row).exists():  # killed between the two writes
                script = run_dir.load_script()
                assert script is not None
                bulk.write_export(entry.row, script, run_dir)
            return run_dir, request, True
        progress.scenes_done += len(run_dir.load_checkpoint())  # done by earlier attempts
        return run_dir, request, False

    async def one(entry: Entry) -> None:
        run_dir, request, finished = await asyncio.to_thread(load, entry)
        if finished:
            progress.scenes_done += request.scene_count
            progress.scripts_done += 1
            progress.notify()
            return
        lane = LaneRun(
            request,
            backend,  # shared: one key pool and rate limiter, closed below
            run_dir,
            resume=True,
            subscribers=(progress.for_row(entry.row),),
            policy=policy,
            budget=budget,
            close_backend=False,
            spend=spend,  # one total across rows
        )
        async with lanes.turn():  # loaded before its turn, so that it starts at once
            try:
                script = await run_lane(lane)
            except StoryGenError:  # on disk in the run's status; the others go on
                progress.scripts_failed += 1
                return
            await asyncio.to_thread(bulk.write_export, entry.row, script, run_dir)

    try:
        await lanes.gather(one(e) for e in entries)
    finally:
        aclose = getattr(backend, "aclose", None)
        if aclose is not None:
            await aclose()
        lines = bulk.write_summary()  # also after Ctrl-C: what is done so far
    return BulkResult(lines)


def run_bulk(
    bulk: BulkDir,
    backend: Backend,
    *,
    max_in_flight: int,
    scripts_at_once: int | None = None,
    policy: RetryPolicy | None = None,
    progress: BulkProgress | None = None,
    spend: SpendCap | None = None,
) -> BulkResult:
    """The synchronous face, for the CLI, the app's worker and notebooks."""
    return run_sync(
        run_bulk_async(
            bulk,
            backend,
            max_in_flight=max_in_flight,
            scripts_at_once=scripts_at_once,
            policy=policy,
            progress=progress,
            spend=spend,
        )
    )


def pending(bulk: BulkDir) -> list[Entry]:
    """Rows whose script is not finished yet (by status: no script is read)."""
    return [e for e in bulk.entries if bulk.run(e).status().get("status") != "finished"]
