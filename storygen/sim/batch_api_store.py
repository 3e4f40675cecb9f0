"""The Batch API's files and batches, held in memory, and what each line of a batch drew.

A batch's status is read off the clock on every GET, so no background task runs and the
same requests always give the same answers. With d = ``batch_delay_s`` real seconds (not
scaled by ``time_scale``) after ``created_at``::

    validating [0, 0.1 d) -> in_progress [0.1 d, 0.9 d) -> finalizing [0.9 d, d) -> completed

A bad input file fails the batch once validation ends. A cancel makes it "cancelling" for
0.1 d, then "cancelled". A batch with lines that were never run ends "expired", as when
OpenAI's completion window closes.

Each line is answered by the live endpoint's own code (``answer_chat``): the same text from
the simulated LLM, the same usage, the same refusals. Each line also draws whether it
fails (a 500), whether it expires, and when in the in_progress phase it is done. The draw
comes from (the body's seed, custom_id, attempt), where attempt counts the batches this
(seed, custom_id) has been in. The same submission then always gets the same answers,
while a failed line sent again draws afresh, as a live retry does. Output lines come
back ordered by the time each was done, never in input order, so clients must match them
by custom_id.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from storygen.sim.batch_api_input import ENDPOINT
from storygen.sim.chat import answer_chat
from storygen.sim.config import SimServerConfig

WINDOW = "24h"
WINDOW_S = 24 * 3600
VALIDATING, FINALIZING = 0.1, 0.9  # shares of the delay where those phases start and end
CANCELLING = 0.1  # share of the delay a cancel takes

EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
CANCELLED = {
    "code": "batch_cancelled",
    "message": "This request was not executed because the batch was cancelled.",
}

# (output lines, error lines) of a batch that is over
Results = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _stamp(moment: float | None, reached: bool) -> int | None:
    return int(moment) if moment is not None and reached else None


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: float

    def as_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": int(self.created_at),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class BatchLine:
    """One request of a batch and its drawn fate."""

    custom_id: str
    done_s: float  # seconds after created_at when it is answered
    status: int | None  # the HTTP status of its answer; None: never run (it expires)
    body: dict[str, Any] | None = None


@dataclass
class StoredBatch:
    id: str
    input_file_id: str
    metadata: dict[str, str] | None
    created: float
    delay_s: float
    lines: list[BatchLine]
    errors: list[dict[str, Any]]  # why the input file was refused: the batch fails
    model: str | None = None
    cancel_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    written: bool = False  # its output and error files exist

    def at(self, share: float) -> float:
        return self.created + share * self.delay_s

    def status(self, now: float) -> str:
        if self.cancel_at is not None:
            return "cancelling" if now < self.cancel_at + CANCELLING * self.delay_s else "cancelled"
        if now < self.at(VALIDATING):
            return "validating"
        if self.errors:
            return "failed"
        if now < self.at(FINALIZING):
            return "in_progress"
        if now < self.at(1.0):
            return "finalizing"
        return "expired" if any(line.status is None for line in self.lines) else "completed"

    def done_by(self, moment: float) -> list[BatchLine]:
        """The lines answered by then (an expiring line never is)."""
        return [
            ln for ln in self.lines if ln.status is not None and self.created + ln.done_s <= moment
        ]

    def counts(self, now: float) -> dict[str, int]:
        status = self.status(now)
        if status in ("validating", "failed"):
            return {"total": 0, "completed": 0, "failed": 0}
        total = len(self.lines)
        if status in ("completed", "expired"):
            ok = sum(ln.status == 200 for ln in self.lines)
            return {"total": total, "completed": ok, "failed": total - ok}  # expired count failed
        done = self.done_by(min(now, self.cancel_at or now))
        ok = sum(ln.status == 200 for ln in done)
        if status == "cancelled":  # the lines not run are reported, and counted, as failed
            return {"total": total, "completed": ok, "failed": total - ok}
        return {"total": total, "completed": ok, "failed": len(done) - ok}

    def results(self, now: float) -> Results:
        """Answered lines by the time they were done, then the lines never run."""
        stop = min(now, self.cancel_at or now)  # a cancelled batch ran until the cancel
        done = sorted(self.done_by(stop), key=lambda ln: ln.done_s)
        answered = {id(ln) for ln in done}
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        tag = self.id.removeprefix("batch_")
        for n, ln in enumerate(done, start=1):
            request_id = f"req_{tag}_{n}"
            response = {"status_code": ln.status, "request_id": request_id, "body": ln.body}
            row = {"id": f"batch_req_{tag}_{n}", "custom_id": ln.custom_id}
            (output if ln.status == 200 else errors).append(
                {**row, "response": response, "error": None}
            )
        why = CANCELLED if self.status(now) == "cancelled" else EXPIRED
        for n, ln in enumerate(self.lines, start=len(done) + 1):
            if id(ln) not in answered:
                row = {"id": f"batch_req_{tag}_{n}", "custom_id": ln.custom_id}
                errors.append({**row, "response": None, "error": dict(why)})
        return output, errors

    def as_object(self, now: float) -> dict[str, Any]:
        """The Batch object as OpenAI serves it, at ``now``."""
        status = self.status(now)
        cancel = self.cancel_at
        cancel_end = None if cancel is None else cancel + CANCELLING * self.delay_s
        reached = min(now, cancel or now)  # a cancel stops the clock of the phases
        started, finishing = self.at(VALIDATING), self.at(FINALIZING)
        ran = not self.errors
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "model": self.model,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": WINDOW,
            "status": status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created),
            "in_progress_at": _stamp(started, ran and reached >= started),
            "expires_at": int(self.created) + WINDOW_S,
            "finalizing_at": _stamp(finishing, ran and reached >= finishing),
            "completed_at": _stamp(self.at(1.0), status == "completed"),
            "failed_at": _stamp(self.at(VALIDATING), status == "failed"),
            "expired_at": _stamp(self.at(1.0), status == "expired"),
            "cancelling_at": _stamp(cancel, cancel is not None),
            "cancelled_at": _stamp(cancel_end, status == "cancelled"),
            "request_counts": self.counts(now),
            "metadata": self.metadata,
        }


@dataclass
class BatchStore:
    """Every file and batch the server holds, in memory."""

    config: SimServerConfig
    files: dict[str, StoredFile] = field(default_factory=dict)
    batches: dict[str, StoredBatch] = field(default_factory=dict)
    attempts: Counter[tuple[int, str]] = field(default_factory=Counter)
    made: int = 0

    def new_id(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}sim{self.made:08d}"

    def add_file(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        file = StoredFile(self.new_id("file-"), filename, purpose, data, time.time())
        self.files[file.id] = file
        return file

    def add_batch(
        self,
        file: StoredFile,
        metadata: dict[str, str] | None,
        requests: list[dict[str, Any]],
        errors: list[dict[str, Any]],
    ) -> StoredBatch:
        """A new batch of ``requests`` (failed if the file had ``errors``), its lines drawn."""
        created, batch_id = time.time(), self.new_id("batch_")
        lines = [] if errors else self._draw_lines(batch_id, created, requests)
        model = requests[0]["body"].get("model") if requests and not errors else None
        batch = StoredBatch(
            batch_id, file.id, metadata, created, self.config.batch_delay_s, lines, errors, model
        )
        self.batches[batch.id] = batch
        return batch

    def _draw_lines(
        self, batch_id: str, created: float, requests: list[dict[str, Any]]
    ) -> list[BatchLine]:
        config, lines = self.config, []
        span = (FINALIZING - VALIDATING) * config.batch_delay_s
        for n, item in enumerate(requests, start=1):
            custom_id, body = item["custom_id"], item["body"]
            seed = int(body.get("seed") or 0)
            self.attempts[(seed, custom_id)] += 1
            attempt = self.attempts[(seed, custom_id)]
            rng = random.Random(f"{seed}:{custom_id}:{attempt}:batch")
            # every draw is made, whatever the rates, so one rate never moves another's draws
            expires = rng.random() < config.batch_expire_rate
            fails = rng.random() < config.batch_fail_rate
            done_s = VALIDATING * config.batch_delay_s + rng.random() * span
            if expires:
                lines.append(BatchLine(custom_id, done_s, None))
                continue
            answer_id = f"chatcmpl-{batch_id}-{n}"
            fault = "500" if fails else "ok"
            status, out = answer_chat(
                config, body, answer_id, int(created + done_s), fault, attempt
            )
            lines.append(BatchLine(custom_id, done_s, status, out))
        return lines

    def view_at_creation(self, batch: StoredBatch) -> dict[str, Any]:
        """The batch as its create call answers it: "validating", as OpenAI's always is. Read
        at the moment it was created, not when its lines are drawn: drawing takes time (a
        garbage collection can take longer than a short delay's validating phase)."""
        return batch.as_object(batch.created)

    def view(self, batch: StoredBatch) -> dict[str, Any]:
        """The batch as a GET sees it now; once it is over, its files are written first."""
        now = time.time()
        self._write_files(batch, now)
        return batch.as_object(now)

    def _write_files(self, batch: StoredBatch, now: float) -> None:
        """The output and error files, once the batch is over (OpenAI leaves an empty one
        out)."""
        if batch.written or batch.status(now) not in ("completed", "expired", "cancelled"):
            return
        batch.written = True
        output, errors = batch.results(now)
        if output:
            name = f"batch_{batch.id}_output.jsonl"
            batch.output_file_id = self.add_file(name, "batch_output", _jsonl(output)).id
        if errors:
            name = f"batch_{batch.id}_error.jsonl"
            batch.error_file_id = self.add_file(name, "batch_output", _jsonl(errors)).id
