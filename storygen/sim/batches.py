"""serve-sim's Batch API: ``/v1/files`` and ``/v1/batches``, in the shapes OpenAI serves.

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

The app imports this module; clients must not (it is the server's side).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

if TYPE_CHECKING:
    from storygen.sim.server import SimServerConfig, SimServerState

ENDPOINT = "/v1/chat/completions"
WINDOW = "24h"
WINDOW_S = 24 * 3600
MAX_LINES = 50_000  # OpenAI's limit of requests per batch
VALIDATING, FINALIZING = 0.1, 0.9  # shares of the delay where those phases start and end
CANCELLING = 0.1  # share of the delay a cancel takes

# (body, answer id, created, fault) -> (HTTP status, JSON body), as the live endpoint answers
AnswerChat = Callable[[dict[str, Any], str, int, str], tuple[int, dict[str, Any]]]
Authorize = Callable[[Request], str | JSONResponse]

EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
CANCELLED = {
    "code": "batch_cancelled",
    "message": "This request was not executed because the batch was cancelled.",
}


def _refuse(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> JSONResponse:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    return JSONResponse(body, status_code=status)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@dataclass
class _File:
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
class _Line:
    """One request of a batch and its drawn fate."""

    custom_id: str
    done_s: float  # seconds after created_at when it is answered
    status: int | None  # the HTTP status of its answer; None: never run (it expires)
    body: dict[str, Any] | None = None


@dataclass
class _Batch:
    id: str
    input_file_id: str
    metadata: dict[str, str] | None
    created: float
    delay_s: float
    lines: list[_Line]
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

    def done_by(self, moment: float) -> list[_Line]:
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


@dataclass
class BatchStore:
    """Every file and batch the server holds, in memory."""

    files: dict[str, _File] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    attempts: Counter[tuple[int, str]] = field(default_factory=Counter)
    made: int = 0

    def new_id(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}sim{self.made:08d}"

    def add_file(self, filename: str, purpose: str, data: bytes) -> _File:
        file = _File(self.new_id("file-"), filename, purpose, data, time.time())
        self.files[file.id] = file
        return file


def _validate(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's requests, or why it is refused (OpenAI's codes, 1-based lines)."""
    errors: list[dict[str, Any]] = []

    def refuse(line: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "line": line, "message": message, "param": param})

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        refuse(1, "invalid_json_line", "This line is not parseable as valid JSON.")
        return [], errors
    requests: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[Any] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            item = None
        if not isinstance(item, dict):
            refuse(number, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            refuse(
                number,
                "missing_required_parameter",
                "Missing required parameter: 'custom_id'.",
                "custom_id",
            )
            continue
        if custom_id in seen:
            refuse(
                number,
                "duplicate_custom_id",
                "The custom_id for this request is a duplicate of another request. "
                "The custom_id parameter must be unique for each request in a batch.",
                "custom_id",
            )
            continue
        seen.add(custom_id)
        if item.get("method") != "POST":
            refuse(number, "invalid_value", "The method must be 'POST'.", "method")
        elif item.get("url") != ENDPOINT:
            refuse(
                number,
                "url_mismatch",
                "The URL provided for this request does not match the batch endpoint.",
                "url",
            )
        elif not isinstance(item.get("body"), dict):
            refuse(
                number, "missing_required_parameter", "Missing required parameter: 'body'.", "body"
            )
        else:
            models.add(item["body"].get("model"))
            if len(models) > 1:
                refuse(
                    number,
                    "model_mismatch",
                    "The provided model does not match the model of the other requests in the "
                    "batch: a batch holds requests for one model.",
                    "body.model",
                )
            requests.append(item)
    if not requests and not errors:
        refuse(1, "empty_file", "The batch input file is empty.")
    if len(requests) > MAX_LINES:
        refuse(
            MAX_LINES + 1,
            "too_many_tasks",
            f"The batch input file holds more than the {MAX_LINES} requests a batch allows.",
        )
    return requests, errors


def batch_router(
    config: SimServerConfig,
    state: SimServerState,
    authorize: Authorize,
    answer: AnswerChat,
) -> APIRouter:
    """The Batch API's routes, answering each line with ``answer`` (the live endpoint's)."""
    store = BatchStore()

    async def counted() -> None:
        state.batch_http_requests += 1

    router = APIRouter(dependencies=[Depends(counted)])

    def draw_lines(batch_id: str, created: float, requests: list[dict[str, Any]]) -> list[_Line]:
        lines = []
        span = (FINALIZING - VALIDATING) * config.batch_delay_s
        for n, item in enumerate(requests, start=1):
            custom_id, body = item["custom_id"], item["body"]
            seed = int(body.get("seed") or 0)
            store.attempts[(seed, custom_id)] += 1
            attempt = store.attempts[(seed, custom_id)]
            rng = random.Random(f"{seed}:{custom_id}:{attempt}:batch")
            # every draw is made, whatever the rates, so one rate never moves another's draws
            expires = rng.random() < config.batch_expire_rate
            fails = rng.random() < config.batch_fail_rate
            done_s = VALIDATING * config.batch_delay_s + rng.random() * span
            if expires:
                lines.append(_Line(custom_id, done_s, None))
                continue
            answer_id = f"chatcmpl-{batch_id}-{n}"
            status, out = answer(body, answer_id, int(created + done_s), "500" if fails else "ok")
            lines.append(_Line(custom_id, done_s, status, out))
        return lines

    def write_files(batch: _Batch, now: float) -> None:
        """The output and error files, once the batch is over (OpenAI leaves an empty one
        out): answered lines by the time they were done, then the lines never run."""
        status = batch.status(now)
        if batch.written or status not in ("completed", "expired", "cancelled"):
            return
        batch.written = True
        stop = min(now, batch.cancel_at or now)  # a cancelled batch ran until the cancel
        done = sorted(batch.done_by(stop), key=lambda ln: ln.done_s)
        answered = {id(ln) for ln in done}
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        tag = batch.id.removeprefix("batch_")
        for n, ln in enumerate(done, start=1):
            request_id = f"req_{tag}_{n}"
            response = {"status_code": ln.status, "request_id": request_id, "body": ln.body}
            row = {"id": f"batch_req_{tag}_{n}", "custom_id": ln.custom_id}
            (output if ln.status == 200 else errors).append(
                {**row, "response": response, "error": None}
            )
        why = CANCELLED if status == "cancelled" else EXPIRED
        for n, ln in enumerate(batch.lines, start=len(done) + 1):
            if id(ln) not in answered:
                row = {"id": f"batch_req_{tag}_{n}", "custom_id": ln.custom_id}
                errors.append({**row, "response": None, "error": dict(why)})
        if output:
            name = f"batch_{batch.id}_output.jsonl"
            batch.output_file_id = store.add_file(name, "batch_output", _jsonl(output)).id
        if errors:
            name = f"batch_{batch.id}_error.jsonl"
            batch.error_file_id = store.add_file(name, "batch_output", _jsonl(errors)).id

    def as_object(batch: _Batch) -> dict[str, Any]:
        now = time.time()
        write_files(batch, now)
        status = batch.status(now)

        def stamp(moment: float | None, reached: bool) -> int | None:
            return int(moment) if moment is not None and reached else None

        cancel = batch.cancel_at
        cancel_end = None if cancel is None else cancel + CANCELLING * batch.delay_s
        reached = min(now, cancel or now)  # a cancel stops the clock of the phases
        started, finishing = batch.at(VALIDATING), batch.at(FINALIZING)
        ran = not batch.errors
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": WINDOW,
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(batch.created),
            "in_progress_at": stamp(started, ran and reached >= started),
            "expires_at": int(batch.created) + WINDOW_S,
            "finalizing_at": stamp(finishing, ran and reached >= finishing),
            "completed_at": stamp(batch.at(1.0), status == "completed"),
            "failed_at": stamp(batch.at(VALIDATING), status == "failed"),
            "expired_at": stamp(batch.at(1.0), status == "expired"),
            "cancelling_at": stamp(cancel, cancel is not None),
            "cancelled_at": stamp(cancel_end, status == "cancelled"),
            "request_counts": batch.counts(now),
            "metadata": batch.metadata,
        }

    def find_batch(batch_id: str) -> _Batch | JSONResponse:
        batch = store.batches.get(batch_id)
        if batch is None:
            return _refuse(404, f"No batch found with id '{batch_id}'.", "not_found", "batch_id")
        return batch

    def find_file(file_id: str) -> _File | JSONResponse:
        file = store.files.get(file_id)
        if file is None:
            return _refuse(404, f"No such File object: {file_id}", "not_found", "file_id")
        return file

    @router.post("/v1/files")
    async def upload(request: Request) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        form = await request.form()
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            return _refuse(400, "Missing required parameter: 'file'.", None, "file")
        if purpose != "batch":
            return _refuse(
                400,
                f"serve-sim stores files for the Batch API only: purpose must be 'batch' "
                f"(got {purpose!r}).",
                "invalid_value",
                "purpose",
            )
        file = store.add_file(upload.filename or "upload.jsonl", "batch", await upload.read())
        state.files_uploaded += 1
        return file.as_object()

    @router.get("/v1/files/{file_id}")
    async def file_object(file_id: str, request: Request) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        file = find_file(file_id)
        return file if isinstance(file, JSONResponse) else file.as_object()

    @router.get("/v1/files/{file_id}/content")
    async def file_content(file_id: str, request: Request) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        file = find_file(file_id)
        if isinstance(file, JSONResponse):
            return file
        return Response(file.data, media_type="application/octet-stream")

    @router.post("/v1/batches")
    async def create(request: Request) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        if key in config.exhausted_keys:
            return _refuse(429, "You exceeded your current quota.", "insufficient_quota")
        try:
            asked = await request.json()
        except ValueError:
            asked = None
        if not isinstance(asked, dict):
            return _refuse(400, "The body must be a JSON object.")
        if asked.get("endpoint") != ENDPOINT:
            return _refuse(
                400,
                f"serve-sim's batches support the endpoint {ENDPOINT} only "
                f"(got {asked.get('endpoint')!r}).",
                "invalid_value",
                "endpoint",
            )
        if asked.get("completion_window") != WINDOW:
            return _refuse(
                400,
                f"completion_window must be '{WINDOW}' (got {asked.get('completion_window')!r}).",
                "invalid_value",
                "completion_window",
            )
        file = find_file(str(asked.get("input_file_id")))
        if isinstance(file, JSONResponse):
            return file
        if file.purpose != "batch":
            return _refuse(
                400, "The input file must be uploaded with purpose 'batch'.", None, "input_file_id"
            )
        requests, errors = _validate(file.data)
        created, batch_id = time.time(), store.new_id("batch_")
        lines = [] if errors else draw_lines(batch_id, created, requests)
        model = requests[0]["body"].get("model") if requests and not errors else None
        batch = _Batch(
            batch_id,
            file.id,
            asked.get("metadata"),
            created,
            config.batch_delay_s,
            lines,
            errors,
            model,
        )
        store.batches[batch.id] = batch
        state.batches_created += 1
        state.batch_lines += len(lines)
        return as_object(batch)

    @router.get("/v1/batches/{batch_id}")
    async def retrieve(batch_id: str, request: Request) -> Any:
        state.batch_polls += 1
        if isinstance(key := authorize(request), JSONResponse):
            return key
        batch = find_batch(batch_id)
        return batch if isinstance(batch, JSONResponse) else as_object(batch)

    @router.post("/v1/batches/{batch_id}/cancel")
    async def cancel(batch_id: str, request: Request) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        batch = find_batch(batch_id)
        if isinstance(batch, JSONResponse):
            return batch
        now = time.time()
        status = batch.status(now)
        if status in ("completed", "failed", "expired"):
            return _refuse(409, f"Cannot cancel a batch with status '{status}'.")
        if batch.cancel_at is None:
            batch.cancel_at = now
        return as_object(batch)

    @router.get("/v1/batches")
    async def listing(request: Request, limit: int = 20, after: str | None = None) -> Any:
        if isinstance(key := authorize(request), JSONResponse):
            return key
        if not 1 <= limit <= 100:
            return _refuse(400, f"limit must be between 1 and 100 (got {limit}).", None, "limit")
        newest = list(reversed(store.batches))  # dicts keep the order of creation
        if after is not None:
            if after not in store.batches:
                return _refuse(404, f"No batch found with id '{after}'.", "not_found", "after")
            newest = newest[newest.index(after) + 1 :]
        page = [as_object(store.batches[b]) for b in newest[:limit]]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }

    return router
