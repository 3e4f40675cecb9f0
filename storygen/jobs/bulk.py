"""The app's bulk runs: every script of a bulk folder in one child process, with live
counts, Cancel (SIGINT: every run is marked interrupted and keeps its scenes) and Resume."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from storygen.backends.config import BackendConfig
from storygen.bulk.folder import BulkDir
from storygen.bulk.live import BulkProgress, run_bulk_async
from storygen.bulk.rows import Rows
from storygen.core.errors import InvalidRequestError
from storygen.jobs.worker import mark_interrupted, resume_config, spawn_entry
from storygen.policies.retry import RetryPolicy
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


class BulkJob:
    """A child process writing (or finishing) every script of one bulk folder, and the thread
    that reads its counts. What each row became is on disk (``BulkDir.summary()``), so a page
    that lost this handle still shows it; the handle adds the live counts and Cancel."""

    def __init__(self, bulk: BulkDir, *, secrets: Iterable[str] = ()) -> None:
        self.bulk = bulk
        self.counts = BulkCounts()
        self.error: str | None = None
        self.child_pid: int | None = None
        self.cancel_requested = False
        self._status: BulkStatus = "running"
        self._secrets = tuple(s for s in secrets if s)
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def status(self) -> BulkStatus:
        return self._status if self.done else "running"

    def start(self, payload: bytes) -> BulkJob:
        child, events, errors = spawn_entry("storygen.jobs.bulk:bulk_child_main", payload)
        self._child, self.child_pid = child, child.pid
        self._thread = threading.Thread(
            target=self._listen, args=(child, events, errors), name="storygen-bulk", daemon=True
        )
        self._thread.start()
        return self

    def _end(self, status: BulkStatus, error: str | None = None) -> None:
        if error is not None:
            for secret in self._secrets:  # a provider may echo the key back in its error
                error = error.replace(secret, "***")
        self._status, self.error = status, error
        self._done.set()

    def _listen(self, child: subprocess.Popen[bytes], events: IO[bytes], errors: IO[bytes]) -> None:
        try:
            with events:
                while True:
                    try:
                        message = pickle.load(events)
                    except EOFError:
                        break
                    self.counts = message[1]
                    if message[0] in ("finished", "cancelled"):
                        self._end(message[0])
                    elif message[0] == "failed":
                        self._end("failed", message[2])
            code = child.wait()
            with errors:
                errors.seek(0)
                last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            reason = f"exit {code}: {' '.join(last)}" if last else f"exit {code}"
        except Exception as exc:  # a page must never poll a job that can no longer end
            reason = f"{type(exc).__name__}: {exc}"
        if self.done:
            return
        if self.cancel_requested:  # cancelled before the child could say so itself
            for entry in self.bulk.entries:
                mark_interrupted(self.bulk.run(entry))
            self._end("cancelled")
        else:
            self._end("failed", f"the bulk run stopped before it finished ({reason})")

    def cancel(self) -> None:
        """SIGINT, as Ctrl-C on ``python -m storygen bulk``: every unfinished run ends
        "interrupted" with its finished scenes kept; ``start_bulk`` again finishes them."""
        child = self._child
        if child is None or self.cancel_requested or self.done:
            return
        self.cancel_requested = True
        child.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the child has ended (for scripts and tests; pages poll ``done``)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done


def start_bulk(
    bulk: BulkDir, config: BackendConfig | None = None, *, max_in_flight: int | None = None
) -> BulkJob:
    """Write every unfinished script of ``bulk`` in the background: a new bulk run and a
    resume alike (finished scripts and scenes are never written again). The backend is the
    one the runs were saved with, its keys from ``config`` (the screen) or the environment;
    the calls in flight are the manifest's unless ``max_in_flight`` is given."""
    entries = bulk.entries
    if not entries:
        raise InvalidRequestError(f"{bulk.path} has no valid rows: nothing to write", "rows")
    backend_config = resume_config(bulk.run(entries[0]), config)
    limit = max_in_flight or int(bulk.manifest.get("max_in_flight", 50))
    if not 1 <= limit <= 10_000:
        raise InvalidRequestError(
            f"max calls in flight must be between 1 and 10000 (got {limit})", "max_in_flight"
        )
    job = BulkJob(bulk, secrets=backend_config.key_values())
    return job.start(pickle.dumps((str(bulk.path), backend_config, limit)))


def bulk_child_main(fd: int) -> None:
    """The child of a BulkJob: ``run_bulk`` on one event loop, its counts pickled onto pipe
    ``fd`` as scenes finish (and every HEARTBEAT_S, for the calls in flight). SIGINT cancels
    every script: each run ends "interrupted" on disk, and summary.csv says where it stopped."""
    out = os.fdopen(fd, "wb")
    listening = True
    progress = BulkProgress()
    bulk: BulkDir | None = None

    def send(message: tuple[Any, ...]) -> None:
        nonlocal listening
        if not listening:
            return
        try:
            pickle.dump(message, out)
            out.flush()
        except OSError:  # the app went away: finish the scripts anyway, they are on disk
            listening = False

    async def write_all(bulk: BulkDir, config: BackendConfig, limit: int) -> None:
        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_S)
                send(("progress", BulkCounts.of(progress)))

        backend = config.build()
        attempts = int(bulk.manifest.get("attempts", RetryPolicy().attempts))
        policy = RetryPolicy(attempts=attempts).scaled(getattr(backend, "time_scale", 1.0))
        beat = asyncio.create_task(heartbeat())
        try:
            await run_bulk_async(
                bulk, backend, max_in_flight=limit, policy=policy, progress=progress
            )
        finally:
            beat.cancel()

    try:
        path, config, limit = pickle.load(sys.stdin.buffer)
        bulk = BulkDir.open(Path(path))
        progress.listeners.append(lambda p: send(("progress", BulkCounts.of(p))))
        asyncio.run(write_all(bulk, config, limit))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut this short
        if bulk is not None:  # scripts still waiting for their turn have no mark yet
            for entry in bulk.entries:
                mark_interrupted(bulk.run(entry))
            bulk.write_summary()
        send(("cancelled", BulkCounts.of(progress)))
    except Exception as exc:
        send(("failed", BulkCounts.of(progress), f"{type(exc).__name__}: {exc}"))
    else:
        send(("finished", BulkCounts.of(progress)))
    finally:
        with contextlib.suppress(OSError):
            out.close()
