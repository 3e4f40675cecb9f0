"""The app's bulk runs: every script of a bulk folder in one child process, with live
counts, Cancel (SIGINT: every run is marked interrupted and keeps its scenes) and Resume."""

from __future__ import annotations

import asyncio
import pickle
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from storygen.backends.config import BackendConfig
from storygen.backends.factory import build_backend
from storygen.bulk.folder import BulkDir
from storygen.bulk.live import BulkProgress, run_bulk_async
from storygen.bulk.rows import Rows
from storygen.core.bounds import IN_FLIGHT
from storygen.core.errors import InvalidRequestError
from storygen.core.spend import SpendCap
from storygen.jobs.child import Child, ChildJob
from storygen.policies.retry import RetryPolicy
from storygen.runner.lanes import mark_interrupted
from storygen.runner.runs import resume_config
from storygen.store import RunStore

BULK_FOLDER = "bulk"  # beside the runs in the store, which lists only folders holding a run
BulkStatus = Literal["running", "finished", "failed", "cancelled"]
HEARTBEAT_S = 0.2  # how often the child reports calls in flight when no scene finishes


@dataclass(frozen=True)
class BulkCounts:
    """Where a bulk run stands, across every script: what its page shows live."""

    scenes_done: int = 0
    scenes_total: int = 0
    scripts_done: int = 0
    scripts_total: int = 0
    scripts_failed: int = 0
    in_flight: int = 0

    @classmethod
    def of(cls, progress: BulkProgress) -> BulkCounts:
        return cls(
            progress.scenes_done,
            progress.scenes_total,
            progress.scripts_done,
            progress.scripts_total,
            progress.scripts_failed,
            progress.in_flight,
        )


def bulk_folders(store: RunStore) -> list[Path]:
    """The store's bulk runs, newest first."""
    root = store.root / BULK_FOLDER
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / "manifest.json").exists()), reverse=True)


def create_bulk(
    store: RunStore,
    rows: Rows,
    config: BackendConfig,
    *,
    source: str,
    export_format: str = "json",
    max_in_flight: int = 50,
) -> BulkDir:
    """A new bulk folder under the store (``bulk/<UTC stamp>-<id>``) with a run per valid row,
    set up as ``python -m storygen bulk`` does; ``start_bulk`` then writes it."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return BulkDir.create(
        store.root / BULK_FOLDER / f"{stamp}-{uuid.uuid4().hex[:6]}",
        source=source,
        valid=rows.valid,
        rejected=rows.rejected,
        store=store,
        backend_settings=config.settings(),
        options={
            "via": "live",
            "format": export_format,
            "max_in_flight": max_in_flight,
            "scripts_at_once": None,
            "attempts": RetryPolicy().attempts,
            "price_as": "gpt-4o-mini",
        },
    )


class BulkJob(ChildJob):
    """A child process writing (or finishing) every script of one bulk folder, and the thread
    that reads its counts. What each row became is on disk (``BulkDir.summary()``), so a page
    that lost this handle still shows it; the handle adds the live counts and Cancel."""

    entry: ClassVar[str] = "storygen.jobs.bulk:bulk_child_main"

    def __init__(self, bulk: BulkDir, *, secrets: Iterable[str] = ()) -> None:
        super().__init__("storygen-bulk", secrets=secrets)
        self.bulk = bulk
        self.counts = BulkCounts()
        self.error: str | None = None
        self._status: BulkStatus = "running"
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def status(self) -> BulkStatus:
        return self._status if self.done else "running"

    def start(self, payload: bytes) -> BulkJob:
        self._spawn(payload)
        return self

    def _end(self, status: BulkStatus, error: str | None = None) -> None:
        self._status, self.error = status, None if error is None else self.masked(error)
        self._done.set()

    def _receive(self, message: tuple[Any, ...]) -> None:
        self.counts = message[1]
        if message[0] in ("finished", "cancelled"):
            self._end(message[0])
        elif message[0] == "failed":
            self._end("failed", message[2])

    def _ended(self, reason: str) -> None:
        if self.done:
            return
        if self.cancel_requested:  # cancelled before the child could say so itself
            for entry in self.bulk.entries:
                mark_interrupted(self.bulk.run(entry))
            self._end("cancelled")
        else:
            self._end("failed", f"the bulk run stopped before it finished ({reason})")


def start_bulk(
    bulk: BulkDir,
    config: BackendConfig | None = None,
    *,
    max_in_flight: int | None = None,
    max_cost: float | None = None,
) -> BulkJob:
    """Write every unfinished script of ``bulk`` in the background: a new bulk run and a
    resume alike (finished scripts and scenes are never written again). The backend is the
    one the runs were saved with, its keys from ``config`` (the screen) or the environment;
    the calls in flight are the manifest's unless ``max_in_flight`` is given. ``max_cost``
    (USD) is one cap across every row: once spent, the rows left start no calls and stay
    interrupted, and the job ends "finished" with them in its summary."""
    entries = bulk.entries
    if not entries:
        raise InvalidRequestError(f"{bulk.path} has no valid rows: nothing to write", "rows")
    backend_config = resume_config(bulk.run(entries[0]), config)
    limit = max_in_flight or bulk.manifest.max_in_flight
    if limit not in IN_FLIGHT:
        raise InvalidRequestError(
            f"max calls in flight must be between {IN_FLIGHT.low} and {IN_FLIGHT.high} "
            f"(got {limit})",
            "max_in_flight",
        )
    if max_cost is not None:
        SpendCap(max_cost)  # a bad cap is said here, not by the child
    job = BulkJob(bulk, secrets=backend_config.key_values())
    return job.start(pickle.dumps((str(bulk.path), backend_config, limit, max_cost)))


class _BulkChild(Child):
    """``run_bulk`` on one event loop, its counts sent as scenes finish (and every
    HEARTBEAT_S, for the calls in flight). SIGINT cancels every script: each run ends
    "interrupted" on disk, and summary.csv says where it stopped."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.progress = BulkProgress()
        self.bulk: BulkDir | None = None

    def _counts(self) -> BulkCounts:
        return BulkCounts.of(self.progress)

    async def _write_all(
        self, bulk: BulkDir, config: BackendConfig, limit: int, max_cost: float | None
    ) -> None:
        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_S)
                self.send(("progress", self._counts()))

        backend = build_backend(config)
        attempts = bulk.manifest.attempts
        policy = RetryPolicy(attempts=attempts).scaled(getattr(backend, "time_scale", 1.0))
        spend = None if max_cost is None else SpendCap(max_cost, backend.model)
        beat = asyncio.create_task(heartbeat())
        try:
            await run_bulk_async(
                bulk,
                backend,
                max_in_flight=limit,
                policy=policy,
                progress=self.progress,
                spend=spend,  # one total across the rows
            )
        finally:
            beat.cancel()

    def work(self) -> None:
        try:
            path, config, limit, max_cost = self.payload()
            self.bulk = BulkDir.open(Path(path))
            self.progress.listeners.append(lambda p: self.send(("progress", BulkCounts.of(p))))
            asyncio.run(self._write_all(self.bulk, config, limit, max_cost))
        except Exception as exc:
            self.send(("failed", self._counts(), f"{type(exc).__name__}: {exc}"))
        else:
            self.send(("finished", self._counts()))

    def cancelled(self) -> None:
        if self.bulk is not None:  # scripts still waiting for their turn have no mark yet
            for entry in self.bulk.entries:
                mark_interrupted(self.bulk.run(entry))
            self.bulk.write_summary()
        self.send(("cancelled", self._counts()))


def bulk_child_main(fd: int) -> None:
    """The child of a BulkJob, its counts pickled onto pipe ``fd``."""
    _BulkChild(fd).main()
