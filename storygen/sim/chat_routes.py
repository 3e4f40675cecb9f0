"""``POST /v1/chat/completions``: a chat call with its transport.

Around ``chat.py``'s answer it plays what only HTTP has: the key check, quota, the rate
limit (and its x-ratelimit-* headers), the drawn latency served in one of C slots
(service.py), a client that gives up, the faults that break the transport (dropped
connections, cut JSON, a proxy's HTML page), and a streamed answer (stream.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from storygen.backends.simulated import draw_hang, draw_latency, first_token_share, hedge_key
from storygen.core.prompts import estimate_tokens
from storygen.sim.auth import authorize, bearer
from storygen.sim.chat import ChatCall, complete_chat, read_chat, refuse_chat
from storygen.sim.config import SimServerConfig
from storygen.sim.errors import NOT_STORYGEN, error, server_error
from storygen.sim.faults import FILLER, draw_fault, kind, runaway_cap, strike_share
from storygen.sim.pace import Pace
from storygen.sim.rate_headers import rate_headers
from storygen.sim.service import Service
from storygen.sim.state import SimRequest, SimServerState
from storygen.sim.stream import StreamedAnswer, plan_stream


class _Dropped(Response):
    """Headers and half a body, then the connection closes: a proxy or server dying."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]  # no length: the body is chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-', "more_body": True})
        # returning without the last body message makes uvicorn close the connection


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


def _spent_s(config: SimServerConfig, seen: SimRequest, seed: int, key: str) -> float:
    """The call's drawn work, in real seconds served alone (a hang included)."""
    c = config
    drawn = draw_latency(seed, key, seen.attempt, c.median_s, c.sigma, c.hang_rate, c.hang_factor)
    seen.hung = draw_hang(seed, key, seen.attempt, c.hang_rate)
    return drawn * c.time_scale


def _silence_s(config: SimServerConfig, fault: str) -> float:
    """Real seconds the server sends nothing on top of the work: a "timeout" (or a plain
    call's "stall") answers slow_s late."""
    return config.slow_s if kind(fault) in ("timeout", "stall") else 0.0


def _served_answer(chat: ChatCall, seen: SimRequest, call: str, strike: float) -> Any:
    """The answer once served, spoilt by the transport faults as scripted or drawn."""
    fault = seen.fault
    if kind(fault) in ("drop", "cut"):
        return _Dropped(media_type="application/json")
    if fault.isdigit():
        status, body = server_error(int(fault))
        return JSONResponse(body, status_code=status)
    answer = complete_chat(
        chat, fault, f"chatcmpl-sim-{call}-{seen.attempt}", int(time.time()), seen.attempt, strike
    )
    seen.finish_reason = answer["choices"][0]["finish_reason"]
    seen.sent_tokens = answer["usage"]["completion_tokens"]
    if fault == "truncated":  # a complete HTTP answer whose JSON body is cut short
        text = json.dumps(answer)
        return Response(text[: len(text) // 2], media_type="application/json")
    if fault == "html":  # a proxy's login page, sent with a 200
        return Response("<html><body>Please sign in</body></html>", media_type="text/html")
    return answer


def _plain_share(chat: ChatCall, fault: str, lead: float, strike: float) -> float:
    """The share of its work a plain call takes: all of it, or more when it runs away
    (its filler written at the text's own token rate up to the cap)."""
    if kind(fault) not in FILLER:
        return 1.0
    content = complete_chat(chat, "ok", "", 0)["choices"][0]["message"]["content"]
    text, tokens = estimate_tokens(content), runaway_cap(chat.max_tokens)
    return lead + (1 - lead) * max(tokens, 1) / text


async def _plain(
    ctx: _Context, request: Request, seen: SimRequest, chat: ChatCall, draws: str
) -> Any:
    """Serve the whole work, then answer at once (or nothing, if the client went)."""
    work_s, silence_s = (
        _spent_s(ctx.config, seen, chat.seed, draws),
        _silence_s(ctx.config, seen.fault),
    )
    seen.service_s = work_s + silence_s
    runs_away = kind(seen.fault) in FILLER
    strike = strike_share(seen.fault, chat.seed, draws, seen.attempt) if runs_away else 1.0
    share = _plain_share(
        chat, seen.fault, first_token_share(chat.seed, draws, seen.attempt), strike
    )

    async def work(pace: Pace) -> None:
        if silence_s:
            await pace.stall(silence_s)
        await pace.until(share)

    if not await ctx.service.serve(request.receive, seen, work_s, work):
        return Response(status_code=499)  # nginx's "client closed request"; nobody reads it
    return _served_answer(chat, seen, chat.call or "", strike)


def _streamed(ctx: _Context, seen: SimRequest, chat: ChatCall, draws: str) -> StreamedAnswer:
    """The answer as server-sent events, sent while the call is served."""
    fault, seed, attempt = seen.fault, chat.seed, seen.attempt
    work_s = _spent_s(ctx.config, seen, seed, draws)
    seen.service_s = work_s + _silence_s(ctx.config, fault)
    seen.streamed = True
    text_fault = "ok" if kind(fault) in FILLER else fault
    answer = complete_chat(
        chat, text_fault, f"chatcmpl-sim-{chat.call}-{attempt}", int(time.time()), attempt
    )
    plan = plan_stream(
        answer,
        fault=fault,
        lead=first_token_share(seed, draws, attempt),
        strike=strike_share(fault, seed, draws, attempt),
        slow_s=ctx.config.slow_s,
        include_usage=chat.include_usage,
        max_tokens=chat.max_tokens,
    )
    return StreamedAnswer(
        ctx.service,
        seen,
        work_s,
        plan,
        headers=lambda: rate_headers(ctx.config, ctx.state),
        done=lambda: ctx.state.left(seen),
    )


async def _respond(ctx: _Context, request: Request, seen: SimRequest) -> Any:
    config, state = ctx.config, ctx.state
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
    fault = seen.fault = draw_fault(config, chat.seed, draws, seen.attempt, chat.streamed)
    if fault.startswith("429"):
        wait = float(fault.partition(":")[2] or 1.0)
        state.rejected_429 += 1
        return error(
            429, "Rate limit reached.", "rate_limit_exceeded", **{"retry-after": f"{wait:g}"}
        )
    if chat.streamed and not fault.isdigit() and fault != "html":
        return _streamed(ctx, seen, chat, draws)
    return await _plain(ctx, request, seen, chat, draws)


def _finished(ctx: _Context, seen: SimRequest, answer: Any) -> Any:
    """A plain answer as sent: its status recorded and the rate headers added."""
    if isinstance(answer, _Dropped):
        return answer  # its status stays 0: the connection was dropped
    if not isinstance(answer, Response):
        answer = JSONResponse(answer)
    seen.status = answer.status_code
    if answer.status_code not in (401, 499):
        answer.headers.update(rate_headers(ctx.config, ctx.state))
    return answer


@dataclass(frozen=True)
class _Context:
    config: SimServerConfig
    state: SimServerState
    service: Service


def chat_router(config: SimServerConfig, state: SimServerState) -> APIRouter:
    """The live chat endpoint, counting every request in ``state``."""
    router = APIRouter()
    ctx = _Context(config, state, Service(config, state))

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
            answer = await _respond(ctx, request, seen)
        except BaseException:
            state.left(seen)
            raise
        if isinstance(answer, StreamedAnswer):
            return answer  # it leaves once its stream ends
        state.left(seen)
        return _finished(ctx, seen, answer)

    return router
