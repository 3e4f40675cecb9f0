"""serve-sim's Batch API: ``/v1/files`` and ``/v1/batches``, in the shapes OpenAI serves.

The batches themselves, their clock and their lines are batch_store.py's; here are the
routes, their refusals and the counters a client reads to prove how few requests it sent.
The app includes these routes; clients must not import them (they are the server's side).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from storygen.sim.auth import authorize
from storygen.sim.batch_api_input import ENDPOINT, read_input_file
from storygen.sim.batch_api_store import WINDOW, BatchStore, StoredBatch, StoredFile
from storygen.sim.config import SimServerConfig
from storygen.sim.errors import refusal
from storygen.sim.state import SimServerState


def _find_file(store: BatchStore, file_id: str) -> StoredFile | JSONResponse:
    file = store.files.get(file_id)
    if file is None:
        return refusal(404, f"No such File object: {file_id}", "not_found", "file_id")
    return file


def _find_batch(store: BatchStore, batch_id: str) -> StoredBatch | JSONResponse:
    batch = store.batches.get(batch_id)
    if batch is None:
        return refusal(404, f"No batch found with id '{batch_id}'.", "not_found", "batch_id")
    return batch


def _refuse_creation(asked: Any) -> JSONResponse | None:
    """What is wrong with a create request's body itself, before its file is read."""
    if not isinstance(asked, dict):
        return refusal(400, "The body must be a JSON object.")
    if asked.get("endpoint") != ENDPOINT:
        return refusal(
            400,
            f"serve-sim's batches support the endpoint {ENDPOINT} only "
            f"(got {asked.get('endpoint')!r}).",
            "invalid_value",
            "endpoint",
        )
    if asked.get("completion_window") != WINDOW:
        return refusal(
            400,
            f"completion_window must be '{WINDOW}' (got {asked.get('completion_window')!r}).",
            "invalid_value",
            "completion_window",
        )
    return None


async def _json_or_none(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


class _FileRoutes:
    """Upload an input file, read a file's object and its content."""

    def __init__(self, config: SimServerConfig, state: SimServerState, store: BatchStore):
        self.config, self.state, self.store = config, state, store

    def add_to(self, router: APIRouter) -> None:
        router.add_api_route("/v1/files", self.upload, methods=["POST"])
        router.add_api_route("/v1/files/{file_id}", self.file_object, methods=["GET"])
        router.add_api_route("/v1/files/{file_id}/content", self.file_content, methods=["GET"])

    async def upload(self, request: Request) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        form = await request.form()
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            return refusal(400, "Missing required parameter: 'file'.", None, "file")
        if purpose != "batch":
            return refusal(
                400,
                f"serve-sim stores files for the Batch API only: purpose must be 'batch' "
                f"(got {purpose!r}).",
                "invalid_value",
                "purpose",
            )
        data = await upload.read()
        file = self.store.add_file(upload.filename or "upload.jsonl", "batch", data)
        self.state.files_uploaded += 1
        return file.as_object()

    async def file_object(self, file_id: str, request: Request) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        file = _find_file(self.store, file_id)
        return file if isinstance(file, JSONResponse) else file.as_object()

    async def file_content(self, file_id: str, request: Request) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        file = _find_file(self.store, file_id)
        if isinstance(file, JSONResponse):
            return file
        return Response(file.data, media_type="application/octet-stream")


class _BatchRoutes:
    """Create, retrieve, cancel and list batches."""

    def __init__(self, config: SimServerConfig, state: SimServerState, store: BatchStore):
        self.config, self.state, self.store = config, state, store

    def add_to(self, router: APIRouter) -> None:
        router.add_api_route("/v1/batches", self.create, methods=["POST"])
        router.add_api_route("/v1/batches/{batch_id}", self.retrieve, methods=["GET"])
        router.add_api_route("/v1/batches/{batch_id}/cancel", self.cancel, methods=["POST"])
        router.add_api_route("/v1/batches", self.listing, methods=["GET"])

    async def create(self, request: Request) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        if key in self.config.exhausted_keys:
            return refusal(429, "You exceeded your current quota.", "insufficient_quota")
        asked = await _json_or_none(request)
        if (refused := _refuse_creation(asked)) is not None:
            return refused
        file = _find_file(self.store, str(asked.get("input_file_id")))
        if isinstance(file, JSONResponse):
            return file
        if file.purpose != "batch":
            return refusal(
                400, "The input file must be uploaded with purpose 'batch'.", None, "input_file_id"
            )
        requests, errors = read_input_file(file.data)
        batch = self.store.add_batch(file, asked.get("metadata"), requests, errors)
        self.state.batches_created += 1
        self.state.batch_lines += len(batch.lines)
        return self.store.view_at_creation(batch)

    async def retrieve(self, batch_id: str, request: Request) -> Any:
        self.state.batch_polls += 1
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        batch = _find_batch(self.store, batch_id)
        return batch if isinstance(batch, JSONResponse) else self.store.view(batch)

    async def cancel(self, batch_id: str, request: Request) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        batch = _find_batch(self.store, batch_id)
        if isinstance(batch, JSONResponse):
            return batch
        now = time.time()
        status = batch.status(now)
        if status in ("completed", "failed", "expired"):
            return refusal(409, f"Cannot cancel a batch with status '{status}'.")
        if batch.cancel_at is None:
            batch.cancel_at = now
        return self.store.view(batch)

    async def listing(self, request: Request, limit: int = 20, after: str | None = None) -> Any:
        if isinstance(key := authorize(self.config, request), JSONResponse):
            return key
        if not 1 <= limit <= 100:
            return refusal(400, f"limit must be between 1 and 100 (got {limit}).", None, "limit")
        newest = list(reversed(self.store.batches))  # dicts keep the order of creation
        if after is not None:
            if after not in self.store.batches:
                return refusal(404, f"No batch found with id '{after}'.", "not_found", "after")
            newest = newest[newest.index(after) + 1 :]
        page = [self.store.view(self.store.batches[b]) for b in newest[:limit]]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }


def batch_router(config: SimServerConfig, state: SimServerState) -> APIRouter:
    """The Batch API's routes; every request to them is counted, refused ones too."""
    store = BatchStore(config)

    async def counted() -> None:
        state.batch_http_requests += 1

    router = APIRouter(dependencies=[Depends(counted)])
    _FileRoutes(config, state, store).add_to(router)
    _BatchRoutes(config, state, store).add_to(router)
    return router
