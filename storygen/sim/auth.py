"""The key check every /v1 route makes, as OpenAI makes it."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from storygen.sim.config import SimServerConfig
from storygen.sim.errors import error


def bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def authorize(config: SimServerConfig, request: Request) -> str | JSONResponse:
    """The request's key, or the 401 to answer with."""
    key = bearer(request)
    if not key or (config.api_keys is not None and key not in config.api_keys):
        # like OpenAI, the message quotes the key: clients must mask it themselves
        return error(401, f"Incorrect API key provided: {key}.", "invalid_api_key")
    return key
