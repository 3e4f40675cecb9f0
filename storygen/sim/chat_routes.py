"""``POST /v1/chat/completions``: a chat call with its transport.

Around ``chat.py``'s answer it plays what only HTTP has: the key check, quota, the rate
limit, the drawn latency held in one of C slots, a client that gives up, and the faults
that break the transport (dropped connections, cut JSON, a proxy's HTML page).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from storygen.backends.simulated import Slots, draw_hang, draw_latency, hedge_key
from storygen.sim.auth import authorize, bearer
from storygen.sim.chat import ChatCall, complete_chat, draw_fault, read_chat, refuse_chat
from storygen.sim.config import SimServerConfig
from storygen.sim.errors import NOT_STORYGEN, error, server_error
from storygen.sim.state import SimRequest, SimServerState


class _Dropped(Response):
    """Headers and half a body, then the connection closes: a proxy or server dying."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]  # no length: the body is chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-', "more_body": True})
        # returning without the last body message makes uvicorn close the connection


async def _client_gone(request: Request) -> None:
    """Return once the client has closed the connection; the body was read before."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _Service:
    """The time an answer takes, held in one of ``capacity`` slots (first come, first
    served), given up as soon as the client goes."""

    def __init__(self, capacity: int | None, state: SimServerState) -> None:
        self._slots = Slots(capacity) if capacity is not None else None
        self._state = state

    async def _hold(self, seen: SimRequest, seconds: float) -> None:
        """Queue for a slot, then hold it while the answer is written."""
        state, slots = self._state, self._slots
        arrived = time.monotonic()
        if slots is not None and await slots.acquire():
            seen.queued_s = time.monotonic() - arrived
        state.in_service += 1
        state.max_in_service = max(state.max_in_service, state.in_service)
        seen.service_s = seconds
        try:
            await asyncio.sleep(seconds)
        finally:
            state.in_service -= 1
            if slots is not None:
                slots.release()

    async def serve(self, request: Request, seen: SimRequest, seconds: float) -> bool:
        """Serve for ``seconds``, or stop as soon as the client goes: False if it went."""
        work = asyncio.ensure_future(self._hold(seen, seconds))
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, gone):
                task.cancel()
            await asyncio.gather(work, gone, return_exceptions=True)
        if work.cancelled():
            seen.cancelled = True
            self._state.cancelled += 1
            return False
        work.result()  # a bug in serving is a 500, not a cancellation
        return True


def _refused(
    config: SimServerConfig, state: SimServerState, key: str, chat: ChatCall
) -> JSONResponse | None:
    """Quota, the model's own refusals and the rate limit, in the order OpenAI checks."""
    if key in config.exhausted_keys:
        return error(429, "You exceeded your current quota.", "insufficient_quota")
    if (refusal := refuse_chat(config, chat)) is not None:
        status, body = refusal
        return JSONResponse(body, status_code=status)
    if (wait := state.over_rpm(config.rpm, 60.0 * config.time_scale)) is not None:
        state.rejected_429 += 1
        return error(
            429,
            f"Rate limit reached: {config.rpm} requests per minute.",
            "rate_limit_exceeded",
            **{"retry-after": f"{wait:.3f}", "retry-after-ms": str(round(wait * 1000))},
        )
    state.accepted_at.append(time.monotonic())
    return None


def _service_s(config: SimServerConfig, seen: SimRequest, seed: int, key: str) -> float:
    """The drawn time to serve this attempt, in real seconds (a "timeout" adds slow_s)."""
    c = config
    drawn = draw_latency(seed, key, seen.attempt, c.median_s, c.sigma, c.hang_rate, c.hang_factor)
    seen.hung = draw_hang(seed, key, seen.attempt, c.hang_rate)
    return drawn * c.time_scale + (c.slow_s if seen.fault == "timeout" else 0.0)


def _served_answer(chat: ChatCall, seen: SimRequest, call: str) -> Any:
    """The answer once served, spoilt by the transport faults as scripted or drawn."""
    fault = seen.fault
    if fault == "drop":
        return _Dropped(media_type="application/json")
    if fault.isdigit():
        status, body = server_error(int(fault))
        return JSONResponse(body, status_code=status)
    answer = complete_chat(
        chat, fault, f"chatcmpl-sim-{call}-{seen.attempt}", int(time.time()), seen.attempt
    )
    seen.finish_reason = answer["choices"][0]["finish_reason"]
    if fault == "truncated":  # a complete HTTP answer whose JSON body is cut short
        text = json.dumps(answer)
        return Response(text[: len(text) // 2], media_type="application/json")
    if fault == "html":  # a proxy's login page, sent with a 200
        return Response("<html><body>Please sign in</body></html>", media_type="text/html")
    return answer


async def _respond(
    config: SimServerConfig,
    state: SimServerState,
    service: _Service,
    request: Request,
    seen: SimRequest,
) -> Any:
    key = authorize(config, request)
    if isinstance(key, JSONResponse):
        return key
    chat = read_chat(await request.json())
    # recorded before any refusal, so every request is attributed
    seen.call, seen.mode = chat.call, chat.mode
    seen.max_tokens, seen.prompt_tokens = chat.max_tokens, chat.prompt_tokens
    if (refused := _refused(config, state, key, chat)) is not None:
        return refused
    if chat.call is None:
        return error(400, NOT_STORYGEN)
    draws = hedge_key(chat.call, seen.hedge)  # a backup draws its own latency and faults
    fault = seen.fault = draw_fault(config, chat.seed, draws, seen.attempt)
    if fault.startswith("429"):
        wait = float(fault.partition(":")[2] or 1.0)
        state.rejected_429 += 1
        return error(
            429, "Rate limit reached.", "rate_limit_exceeded", **{"retry-after": f"{wait:g}"}
        )
    if not await service.serve(request, seen, _service_s(config, seen, chat.seed, draws)):
        return Response(status_code=499)  # nginx's "client closed request"; nobody reads it
    return _served_answer(chat, seen, chat.call)


def chat_router(config: SimServerConfig, state: SimServerState) -> APIRouter:
    """The live chat endpoint, counting every request in ``state``."""
    router = APIRouter()
    service = _Service(config.capacity, state)

    @router.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        seen = SimRequest(
            bearer(request),
            time.monotonic(),
            int(request.headers.get("x-storygen-attempt", "1")),
            int(request.headers.get("x-storygen-hedge", "0")),
        )
        state.arrived(seen)
        try:
            answer = await _respond(config, state, service, request, seen)
        finally:
            state.left(seen)
        if not isinstance(answer, _Dropped):
            seen.status = answer.status_code if isinstance(answer, Response) else 200
        return answer

    return router
