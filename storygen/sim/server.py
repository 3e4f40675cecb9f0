"""serve-sim: an OpenAI-compatible server on 127.0.0.1 backed by the simulated LLM.

It lets users try the real HTTP path, their keys and rate-limit settings without
spending money, and lets the tests drive the real openai SDK over real HTTP. Latencies
and faults are drawn from (seed, call, attempt) as in-process, so results compare; a
backup request (header ``X-Storygen-Hedge: 1``) draws its own, as in-process.

With a ``capacity`` it serves at most C requests at once, like a local llama.cpp or vLLM
with C slots: the others queue first come, first served, and their latency grows with the
queue. A client that closes its connection before the answer (a cancelled call) is
noticed: the work stops and the request is counted as cancelled.

It also serves the Batch API (storygen/sim/batches.py), whose lines are answered by the
same code as a live chat request (``answer_chat``).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from storygen.backends.config import mask
from storygen.backends.simulated import (
    HANG_FACTOR,
    SIM_MODEL,
    Slots,
    draw_hang,
    draw_latency,
    hedge_key,
)
from storygen.backends.simulated_text import make_outline, make_scene
from storygen.core.prompts import ParsedCall, estimate_tokens, parse_prompt
from storygen.core.tasks import SceneTask
from storygen.sim.batches import batch_router

# What response_format the server pretends to support. "refuse-500" plays
# llama-cpp-python's server: json_schema fails its request validation, answered as a 500;
# json_object works.
Structured = Literal["json_schema", "json_object", "none", "refuse-500"]
STRUCTURED_MODES: tuple[Structured, ...] = ("json_schema", "json_object", "none", "refuse-500")


@dataclass
class SimServerConfig:
    time_scale: float = 1.0
    median_s: float = 8.0
    sigma: float = 0.35
    rpm: int | None = None
    error_rate: float = 0.0  # 5xx
    malformed_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 30.0  # real seconds: long enough for a client timeout
    hang_rate: float = 0.0  # share of calls that take hang_factor x the median (scaled)
    hang_factor: float = HANG_FACTOR
    capacity: int | None = None  # requests served at once; the rest queue (None: no limit)
    api_keys: frozenset[str] | None = None  # None: any non-empty key
    exhausted_keys: frozenset[str] = frozenset()
    models: tuple[str, ...] = (SIM_MODEL, "gpt-4o-mini")
    structured: Structured = "json_schema"
    # play a reasoning model: refuse max_tokens (wants max_completion_tokens) and temperature
    reasoning_model: bool = False
    # the model's context window in tokens (prompt + max_tokens): longer requests get
    # OpenAI's 400 context_length_exceeded; None: no limit
    context_tokens: int | None = None
    # the largest max_tokens the model allows: more gets OpenAI's 400 "max_tokens is too
    # large ... supports at most N completion tokens"; None: no limit
    max_tokens_limit: int | None = None
    # scripted faults for tests: call ("outline", "scene3") -> one entry per attempt:
    # "ok", "timeout", "malformed" (the model's text is not the JSON asked for),
    # "truncated" (a 200 whose JSON body is cut short), "html" (a 200 with a web page),
    # "drop" (the connection closes mid-answer), "newlines" (valid JSON but for raw
    # newlines and tabs inside its strings, as small models and grammars write them),
    # "length:<N>" (cut off with finish_reason "length" unless max_tokens >= N),
    # an HTTP status such as "500", "400" or "409", or "429:<retry-after s>"
    script: dict[str, list[str]] = field(default_factory=dict)
    # The Batch API (storygen/sim/batches.py). A batch is done batch_delay_s real seconds
    # after it was created: not scaled by time_scale, since a real batch's delay has
    # nothing to do with a call's latency. Of its lines, a share is answered with a 500
    # (batch_fail_rate) and a share is never run (batch_expire_rate: the window ends, the
    # batch expires and they are reported as batch_expired).
    batch_delay_s: float = 1.0
    batch_fail_rate: float = 0.0
    batch_expire_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.structured not in STRUCTURED_MODES:
            raise ValueError(
                f"structured must be one of {', '.join(STRUCTURED_MODES)} (got {self.structured!r})"
            )
        if not 0 <= self.hang_rate <= 1:
            raise ValueError(f"hang_rate must be between 0 and 1 (got {self.hang_rate})")
        if not 1 <= self.hang_factor <= 1000:
            raise ValueError(f"hang_factor must be between 1 and 1000 (got {self.hang_factor})")
        if self.capacity is not None and not 1 <= self.capacity <= 10_000:
            raise ValueError(f"capacity must be between 1 and 10000 (got {self.capacity})")
        if not 0 <= self.batch_delay_s <= 86_400:
            raise ValueError(
                f"batch_delay_s must be between 0 and 86400, the 24 h window "
                f"(got {self.batch_delay_s})"
            )
        for name in ("batch_fail_rate", "batch_expire_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1 (got {getattr(self, name)})")


@dataclass
class SimRequest:
    """One chat request as the server saw it: who sent what, when, and the answer."""

    key: str
    at: float  # time.monotonic() on arrival
    attempt: int  # the client's X-Storygen-Attempt header
    hedge: int = 0  # the client's X-Storygen-Hedge header: 1 for a backup request
    call: str | None = None  # "outline" or "scene3", once the prompt is read
    mode: str = "none"  # the response_format asked for: json_schema, json_object or none
    fault: str = "ok"  # the fault played, scripted or drawn
    status: int = 0  # the HTTP status answered (0: the connection was dropped)
    max_tokens: int | None = None  # max_tokens or max_completion_tokens, as asked
    prompt_tokens: int = 0  # every message, counted as serve-sim counts usage
    finish_reason: str | None = None  # of a 200 answer
    hung: bool = False  # drew the hang fault
    queued_s: float = 0.0  # waited for a free slot (only with a capacity)
    service_s: float = 0.0  # the drawn time to serve the answer, holding a slot
    cancelled: bool = False  # the client closed the connection before the answer


@dataclass
class SimServerState:
    """What the server saw; read by tests and the benchmark."""

    requests_by_key: Counter[str] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    rejected_429: int = 0
    window: deque[float] = field(default_factory=deque)
    requests: list[SimRequest] = field(default_factory=list)
    in_flight_by_key: Counter[str] = field(default_factory=Counter)
    max_in_flight_by_key: Counter[str] = field(default_factory=Counter)
    in_service: int = 0  # being served, not queued for a slot
    max_in_service: int = 0
    cancelled: int = 0  # requests whose client closed the connection before the answer
    hedged: int = 0  # backup requests (X-Storygen-Hedge)
    # the Batch API: every HTTP request to /v1/files* and /v1/batches* (refused ones too),
    # uploads, batches created, their lines, and GETs of one batch (polls)
    batch_http_requests: int = 0
    files_uploaded: int = 0
    batches_created: int = 0
    batch_lines: int = 0
    batch_polls: int = 0

    def attempts(self, call: str) -> list[SimRequest]:
        """Every request for one call ("scene3"), in arrival order."""
        return [r for r in self.requests if r.call == call]


class _Dropped(Response):
    """Headers and half a body, then the connection closes: a proxy or server dying."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]  # no length: the body is chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-', "more_body": True})
        # returning without the last body message makes uvicorn close the connection


# An answer without its transport: HTTP status and JSON body.
Answer = tuple[int, dict[str, Any]]


def _error_body(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _error(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(_error_body(message, code), status_code=status, headers=headers)


def _validation_500(fmt: str) -> Answer:
    """llama-cpp-python's answer to a response_format it does not know: FastAPI's
    RequestValidationError, caught by its route handler and sent as an internal error."""
    error = {
        "type": "literal_error",
        "loc": ("body", "response_format", "type"),
        "msg": "Input should be 'text' or 'json_object'",
        "input": fmt,
        "ctx": {"expected": "'text' or 'json_object'"},
    }
    body = {
        "error": {
            "message": f"1 validation error:\n  {error}",
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
    return 500, body


def _with_raw_control_characters(content: str) -> str:
    """The same JSON, pretty-printed, with raw newlines and tabs inside its strings."""
    data = json.loads(content)
    for key in ("narration", "visual_prompt", "logline"):
        if isinstance(data.get(key), str):
            first, _, rest = data[key].partition(" ")
            data[key] = f"{first}\n\t{rest}\n"
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace("\\n", "\n").replace("\\t", "\t")


async def _client_gone(request: Request) -> None:
    """Return once the client has closed the connection; the body was read before."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def _fault(config: SimServerConfig, seed: int, call: str, attempt: int) -> str:
    script = config.script.get(call)
    if script is not None and attempt <= len(script):
        return script[attempt - 1]
    rng = random.Random(f"{seed}:{call}:{attempt}:server")
    for name, rate in (("500", config.error_rate), ("malformed", config.malformed_rate)):
        if rng.random() < rate:
            return name
    return "timeout" if rng.random() < config.slow_rate else "ok"


@dataclass(frozen=True)
class ChatCall:
    """One chat body as serve-sim reads it, before it is answered."""

    body: dict[str, Any]
    parsed: ParsedCall | None  # None: not one of storygen's outline or scene prompts
    seed: int
    mode: str  # the response_format asked for: json_schema, json_object or none
    max_tokens: int | None  # max_tokens or max_completion_tokens, as asked
    prompt_tokens: int  # every message, counted as serve-sim counts usage

    @property
    def call(self) -> str | None:
        """The call's name: "outline" or "scene3"."""
        if self.parsed is None:
            return None
        return "outline" if self.parsed.kind == "outline" else f"scene{self.parsed.index}"


def read_chat(body: dict[str, Any]) -> ChatCall:
    messages = body.get("messages") or []
    prompt = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    seed = int(body.get("seed") or 0)
    return ChatCall(
        body,
        parse_prompt(prompt, seed),
        seed,
        (body.get("response_format") or {}).get("type") or "none",
        body.get("max_completion_tokens", body.get("max_tokens")),
        sum(estimate_tokens(str(m.get("content", ""))) for m in messages),
    )


def refuse_chat(config: SimServerConfig, chat: ChatCall) -> Answer | None:
    """What the model refuses in the body itself (model, parameters, format, length)."""
    body, asked = chat.body, chat.max_tokens
    fmt = None if chat.mode == "none" else chat.mode
    model = body.get("model")
    if model not in config.models:
        return 404, _error_body(f"The model `{model}` does not exist.", "model_not_found")
    if config.reasoning_model and "max_tokens" in body:
        return 400, _error_body(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "unsupported_parameter",
        )
    if config.reasoning_model and body.get("temperature") not in (None, 1):
        return 400, _error_body(
            "Unsupported value: 'temperature' does not support 0.9 with this model.",
            "unsupported_value",
        )
    if config.structured == "refuse-500" and fmt not in (None, "text", "json_object"):
        return _validation_500(chat.mode)
    supported = {
        "json_schema": {"json_schema", "json_object"},
        "json_object": {"json_object"},
        "refuse-500": {"json_object"},
    }
    if fmt and fmt not in supported.get(config.structured, set()):
        return 400, _error_body(f"response_format {fmt} is not supported by this server")
    if config.max_tokens_limit is not None and asked and asked > config.max_tokens_limit:
        return 400, _error_body(
            f"max_tokens is too large: {asked}. This model supports at most "
            f"{config.max_tokens_limit} completion tokens, whereas you provided {asked}.",
            "invalid_value",
        )
    window = config.context_tokens
    if window is not None and chat.prompt_tokens + (asked or 0) > window:
        if chat.prompt_tokens > window:
            told = f"However, your messages resulted in {chat.prompt_tokens} tokens. "
            fix = "Please reduce the length of the messages."
        else:
            told = (
                f"However, you requested {chat.prompt_tokens + (asked or 0)} tokens "
                f"({chat.prompt_tokens} in the messages, {asked} in the completion). "
            )
            fix = "Please reduce the length of the messages or completion."
        return 400, _error_body(
            f"This model's maximum context length is {window} tokens. {told}{fix}",
            "context_length_exceeded",
        )
    return None


NOT_STORYGEN = "serve-sim only answers storygen's outline and scene prompts"


def complete_chat(chat: ChatCall, fault: str, answer_id: str, created: int) -> dict[str, Any]:
    """The chat.completion the simulated LLM writes for a storygen prompt, with its usage;
    the faults "malformed", "newlines" and "length:<N>" spoil the text as asked."""
    parsed = chat.parsed
    if parsed is None:
        raise ValueError(NOT_STORYGEN)
    if parsed.kind == "outline":
        content = make_outline(parsed.request, parsed.total).model_dump_json()
    else:
        task = SceneTask(
            parsed.request, parsed.index, parsed.total, parsed.duration_s, parsed.context
        )
        content = make_scene(task).model_dump_json()
    finish, asked = "stop", chat.max_tokens
    if fault == "malformed":
        content = "Sure! Here is the scene: " + content[: len(content) // 2]
    elif fault == "newlines":
        content = _with_raw_control_characters(content)
    elif fault.startswith("length:") and (asked or 0) < int(fault.partition(":")[2]):
        content, finish = content[: len(content) // 2], "length"
    written = asked if finish == "length" and asked else estimate_tokens(content)
    usage = {"prompt_tokens": chat.prompt_tokens, "completion_tokens": written}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": answer_id,
        "object": "chat.completion",
        "created": created,
        "model": chat.body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": usage,
    }


def server_error(status: int) -> Answer:
    """A scripted or drawn HTTP status, as the live endpoint and a batch line answer it."""
    if status >= 500:
        return status, _error_body("The server had an error while processing your request.")
    return status, _error_body(f"serve-sim scripted fault: HTTP {status}")


def answer_chat(
    config: SimServerConfig, body: dict[str, Any], answer_id: str, created: int, fault: str = "ok"
) -> Answer:
    """One chat body answered as the live endpoint answers it, without the transport
    (no key, rate limit, latency or connection faults): what a Batch API line gets."""
    chat = read_chat(body)
    if (refusal := refuse_chat(config, chat)) is not None:
        return refusal
    if chat.parsed is None:
        return 400, _error_body(NOT_STORYGEN)
    if fault.isdigit():
        return server_error(int(fault))
    return 200, complete_chat(chat, fault, answer_id, created)


def create_app(config: SimServerConfig, state: SimServerState | None = None) -> FastAPI:
    state = state or SimServerState()
    app = FastAPI(title="storygen serve-sim")
    app.state.sim = state
    slots = Slots(config.capacity) if config.capacity is not None else None

    async def serve_for(seen: SimRequest, seconds: float) -> None:
        """Queue for a slot, then hold it while the answer is written."""
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

    async def served(request: Request, seen: SimRequest, seconds: float) -> bool:
        """Serve for ``seconds``, or stop as soon as the client goes: False if it went."""
        work = asyncio.ensure_future(serve_for(seen, seconds))
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, gone):
                task.cancel()
            await asyncio.gather(work, gone, return_exceptions=True)
        if work.cancelled():
            seen.cancelled = True
            state.cancelled += 1
            return False
        work.result()  # a bug in serving is a 500, not a cancellation
        return True

    def authorize(request: Request) -> str | JSONResponse:
        key = _bearer(request)
        if not key or (config.api_keys is not None and key not in config.api_keys):
            # like OpenAI, the message quotes the key: clients must mask it themselves
            return _error(401, f"Incorrect API key provided: {key}.", "invalid_api_key")
        return key

    def over_rpm() -> float | None:
        """Seconds until a slot frees in the sliding window, or None if under the limit."""
        if config.rpm is None:
            return None
        window, now = 60.0 * config.time_scale, time.monotonic()
        while state.window and state.window[0] <= now - window:
            state.window.popleft()
        if len(state.window) >= config.rpm:
            return state.window[0] + window - now
        state.window.append(now)
        return None

    @app.get("/sim/stats")
    async def stats() -> Any:
        """What the server saw, with keys masked: for benchmarks and curious users."""
        return {
            "requests": sum(state.requests_by_key.values()),
            "requests_by_key": {mask(k): n for k, n in state.requests_by_key.items()},
            "rejected_429": state.rejected_429,
            "accepted_at": state.accepted_at,
            "max_in_flight_by_key": {mask(k): n for k, n in state.max_in_flight_by_key.items()},
            "max_in_service": state.max_in_service,
            "cancelled": state.cancelled,
            "hedged": state.hedged,
            "hung": sum(r.hung for r in state.requests),
            "queued": sum(r.queued_s > 0 for r in state.requests),
            "capacity": config.capacity,
            "hang_rate": config.hang_rate,
            "hang_factor": config.hang_factor,
            "modes": Counter(r.mode for r in state.requests),
            "batch_http_requests": state.batch_http_requests,
            "files_uploaded": state.files_uploaded,
            "batches_created": state.batches_created,
            "batch_lines": state.batch_lines,
            "batch_polls": state.batch_polls,
        }

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        key = authorize(request)
        if isinstance(key, JSONResponse):
            return key
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "storygen"}
            for m in config.models
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        seen = SimRequest(
            _bearer(request),
            time.monotonic(),
            int(request.headers.get("x-storygen-attempt", "1")),
            int(request.headers.get("x-storygen-hedge", "0")),
        )
        if seen.hedge:
            state.hedged += 1
        state.requests.append(seen)
        state.requests_by_key[seen.key] += 1
        state.in_flight_by_key[seen.key] += 1
        state.max_in_flight_by_key[seen.key] = max(
            state.max_in_flight_by_key[seen.key], state.in_flight_by_key[seen.key]
        )
        try:
            answer = await respond(request, seen)
        finally:
            state.in_flight_by_key[seen.key] -= 1
        if not isinstance(answer, _Dropped):
            seen.status = answer.status_code if isinstance(answer, Response) else 200
        return answer

    async def respond(request: Request, seen: SimRequest) -> Any:
        key = authorize(request)
        if isinstance(key, JSONResponse):
            return key
        chat = read_chat(await request.json())
        # recorded before any refusal, so every request is attributed
        seen.call, seen.mode = chat.call, chat.mode
        seen.max_tokens, seen.prompt_tokens = chat.max_tokens, chat.prompt_tokens
        if key in config.exhausted_keys:
            return _error(429, "You exceeded your current quota.", "insufficient_quota")
        if (refusal := refuse_chat(config, chat)) is not None:
            status, body = refusal
            return JSONResponse(body, status_code=status)
        if (wait := over_rpm()) is not None:
            state.rejected_429 += 1
            return _error(
                429,
                f"Rate limit reached: {config.rpm} requests per minute.",
                "rate_limit_exceeded",
                **{"retry-after": f"{wait:.3f}", "retry-after-ms": str(round(wait * 1000))},
            )
        state.accepted_at.append(time.monotonic())
        if chat.call is None:
            return _error(400, NOT_STORYGEN)
        call, attempt = chat.call, seen.attempt
        key = hedge_key(call, seen.hedge)  # a backup draws its own latency and faults
        seed = chat.seed
        fault = seen.fault = _fault(config, seed, key, attempt)
        if fault.startswith("429"):
            wait = float(fault.partition(":")[2] or 1.0)
            state.rejected_429 += 1
            return _error(
                429, "Rate limit reached.", "rate_limit_exceeded", **{"retry-after": f"{wait:g}"}
            )
        c = config
        drawn = draw_latency(seed, key, attempt, c.median_s, c.sigma, c.hang_rate, c.hang_factor)
        seen.hung = draw_hang(seed, key, attempt, c.hang_rate)
        seconds = drawn * c.time_scale + (c.slow_s if fault == "timeout" else 0.0)
        if not await served(request, seen, seconds):
            return Response(status_code=499)  # nginx's "client closed request"; nobody reads it
        if fault == "drop":
            return _Dropped(media_type="application/json")
        if fault.isdigit():
            status, body = server_error(int(fault))
            return JSONResponse(body, status_code=status)
        answer = complete_chat(chat, fault, f"chatcmpl-sim-{call}-{attempt}", int(time.time()))
        seen.finish_reason = answer["choices"][0]["finish_reason"]
        if fault == "truncated":  # a complete HTTP answer whose JSON body is cut short
            text = json.dumps(answer)
            return Response(text[: len(text) // 2], media_type="application/json")
        if fault == "html":  # a proxy's login page, sent with a 200
            return Response("<html><body>Please sign in</body></html>", media_type="text/html")
        return answer

    app.include_router(batch_router(config, state, authorize, partial(answer_chat, config)))
    return app


class RunningServer:
    """A serve-sim in a background thread, on a port the OS picked."""

    def __init__(self, config: SimServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimServerState()
        self.config = config
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        uv = uvicorn.Config(
            create_app(config, self.state), log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(uv)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 10.0) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("serve-sim did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(config: SimServerConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Blocking, for ``python -m storygen serve-sim``."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", lifespan="off")
