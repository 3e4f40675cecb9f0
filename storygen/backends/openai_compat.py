"""OpenAI and any OpenAI-compatible server, through the official SDK.

The SDK's own retries are off: tenacity in the engine is the only retry loop, so a
429's Retry-After, our backoff and the key pool's cool-downs are all in one place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from storygen.backends.config import DEFAULT_MODEL, OPENAI_URL, BackendConfig
from storygen.backends.openai_answers import read_completion
from storygen.backends.openai_errors import (
    context_too_long,
    detail,
    quirk,
    refuses_format,
    sdk_error,
    stated_token_cap,
    too_long,
    usable_cap,
)
from storygen.core.bounds import MAX_TOKENS
from storygen.core.errors import (
    InvalidRequestError,
    MalformedOutputError,
    RateLimitedError,
    TransientError,
)
from storygen.core.models import Bible, Outline, SceneDraft, ScriptRequest
from storygen.core.prompts import (
    CUT_OFF,
    SYSTEM,
    Kind,
    bible_prompt,
    estimate_tokens,
    json_instruction,
    outline_prompt,
    repair_request,
    scene_prompt,
    schema_for,
)
from storygen.core.tasks import Generation, SceneTask
from storygen.policies.limits import KeyPool, RateLimiter

Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
M = TypeVar("M", bound=BaseModel)

# Detected once per (server, model): which structured-output mode it accepts, whether
# it wants max_completion_tokens and refuses temperature (reasoning models), and the
# largest answer it said it allows.
_server_modes: dict[tuple[str, str], Mode] = {}
_server_quirks: dict[tuple[str, str], set[str]] = {}
_server_token_caps: dict[tuple[str, str], int] = {}
_REFUSED = frozenset({400, 413, 422})  # statuses of a request refused as written


def _messages(kind: Kind, prompt: str, feedback: str | None) -> list[dict[str, str]]:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{prompt}\n\n{json_instruction(kind)}"},
    ]
    if feedback:
        messages.append({"role": "user", "content": repair_request(feedback)})
    return messages


def _learned(
    exc: openai.APIStatusError, server: tuple[str, str], limit: int, adapted: set[str]
) -> bool:
    """Whether a refusal named a parameter the server does without, or the most tokens it
    allows: then the call is sent again without it. Once per call: a second refusal is real."""
    refused = exc.status_code in _REFUSED
    if refused and (q := quirk(exc)) and q not in adapted:
        adapted.add(q)
        _server_quirks.setdefault(server, set()).add(q)
        return True
    cap = stated_token_cap(exc) if refused else None
    if cap is not None and usable_cap(cap, limit) and "cap" not in adapted:
        adapted.add("cap")
        _server_token_caps[server] = min(cap, _server_token_caps.get(server, cap))
        return True
    return False


def _stepped_down(exc: openai.APIStatusError, server: tuple[str, str], mode: Mode) -> bool:
    """Whether the server refused this structured-output mode: the next call uses a simpler
    one, and only ever a simpler one (another call may have stepped down meanwhile)."""
    if mode == "prompt" or not refuses_format(exc):
        return False
    current = _server_modes.get(server, "json_schema")
    _server_modes[server] = MODES[max(MODES.index(mode) + 1, MODES.index(current))]
    return True


@dataclass
class _Session:
    """Clients, pool and limiter bound to one event loop (one run)."""

    clients: list[openai.AsyncOpenAI]
    pool: KeyPool
    limiter: RateLimiter
    usage: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0})


class OpenAIBackend:
    name = "openai"
    time_scale = 1.0

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.keys = config.key_values()
        if not self.keys:
            raise InvalidRequestError(
                "no API key for the OpenAI-compatible backend: set OPENAI_API_KEY, or "
                "STORYGEN_API_KEYS for a comma-separated pool (or enter one in the app)",
                "api_keys",
            )
        self.model = config.model or DEFAULT_MODEL
        self.base_url = (config.base_url or OPENAI_URL).rstrip("/")
        self._sessions: dict[int, _Session] = {}
        self.key_requests = [0] * len(self.keys)
        self.key_rate_limited = [0] * len(self.keys)

    def settings(self) -> dict[str, object]:
        return self.config.settings()

    @property
    def capacity(self) -> int:
        """Keys x per-key concurrency: what ``--batch-size auto`` means."""
        return len(self.keys) * self.config.per_key_concurrency

    def _session(self) -> _Session:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(id(loop))
        if session is None:
            c = self.config
            session = _Session(
                clients=[
                    openai.AsyncOpenAI(
                        api_key=key, base_url=self.base_url, max_retries=0, timeout=c.timeout_s
                    )
                    for key in self.keys
                ],
                pool=KeyPool(len(self.keys), c.per_key_concurrency),
                limiter=RateLimiter(c.rpm, c.tpm, window_s=c.rate_window_s),
            )
            self._sessions[id(loop)] = session
        return session

    async def aclose(self) -> None:
        session = self._sessions.pop(id(asyncio.get_running_loop()), None)
        if session:
            for i, s in enumerate(session.pool.stats):
                self.key_requests[i] += s.requests
                self.key_rate_limited[i] += s.rate_limited
            await asyncio.gather(*(c.close() for c in session.clients))

    def mode(self) -> Mode:
        return _server_modes.get((self.base_url, self.model), "json_schema")

    def max_tokens(self, feedback: str | None = None) -> int:
        """The answer's limit: --max-tokens, doubled once after an answer was cut off
        (up to BackendConfig's ceiling), and never above what the server said it allows."""
        limit = self.config.max_tokens
        if feedback and feedback.startswith(CUT_OFF):
            limit = min(2 * limit, int(MAX_TOKENS.high))
        cap = _server_token_caps.get((self.base_url, self.model))
        return min(limit, cap) if cap else limit

    def _params(self, kind: Kind, mode: Mode, limit: int) -> dict[str, Any]:
        quirks = _server_quirks.get((self.base_url, self.model), set())
        params: dict[str, Any] = {}
        if "no_temperature" not in quirks:
            params["temperature"] = self.config.temperature
        name = "max_completion_tokens" if "max_completion_tokens" in quirks else "max_tokens"
        params[name] = limit
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": kind, "schema": schema_for(kind), "strict": False},
            }
        elif mode == "json_object":
            params["response_format"] = {"type": "json_object"}
        return params

    def _error(self, exc: Exception) -> Exception:
        return sdk_error(
            exc,
            where=self.base_url,
            keys=self.keys,
            timeout_s=self.config.timeout_s,
            model=self.model,
        )

    def _cut_off(self, limit: int) -> MalformedOutputError:
        """The clear message for an answer the token limit stopped; the retry reads it."""
        if limit == _server_token_caps.get((self.base_url, self.model)):
            advice = f"the most {self.base_url} allows for {self.model}; use a model that "
            advice += "can answer at more length"
        else:
            above = f" above {limit}" if limit > self.config.max_tokens else ""
            advice = f"raise --max-tokens{above}"
        return MalformedOutputError(f"{CUT_OFF}{limit}; {advice}")

    async def _call(
        self,
        kind: Kind,
        prompt: str,
        parse: type[M],
        attempt: int,
        feedback: str | None,
        seed: int,
        hedge: int = 0,
    ) -> Generation[M]:
        session = self._session()
        messages = _messages(kind, prompt, feedback)
        prompt_estimate = sum(estimate_tokens(m["content"]) for m in messages)
        limit = self.max_tokens(feedback)
        headers = {"X-Storygen-Attempt": str(attempt)}
        if hedge:  # real servers ignore it; serve-sim draws a backup's latency apart
            headers["X-Storygen-Hedge"] = str(hedge)
        async with session.pool.key() as k:
            booking = await session.limiter.acquire(prompt_estimate + limit)
            adapted: set[str] = set()
            while True:
                mode, limit = self.mode(), self.max_tokens(feedback)
                try:
                    response = await session.clients[k].chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        seed=seed,
                        extra_headers=headers,
                        **self._params(kind, mode, limit),
                    )
                    break
                except openai.APIStatusError as exc:
                    server = (self.base_url, self.model)
                    if _learned(exc, server, limit, adapted):
                        continue  # same attempt, without what the server refused
                    if exc.status_code in _REFUSED and context_too_long(exc):
                        said = detail(exc, self.keys)
                        where = self.base_url
                        raise too_long(self.model, where, prompt_estimate, limit, said) from None
                    if _stepped_down(exc, server, mode):
                        continue  # same attempt, simpler mode
                    error = self._error(exc)
                    if isinstance(error, RateLimitedError):
                        wait = 1.0 if error.retry_after is None else error.retry_after
                        session.pool.cool_down(k, wait)  # "retry after 0" is not "unknown"
                        error.retry_after = session.pool.next_free_in()
                    raise error from None
                except openai.OpenAIError as exc:
                    raise self._error(exc) from None
                except ValueError:  # a 200 whose body was cut short: the SDK could not parse it
                    raise TransientError(
                        f"{self.base_url} answered with a body that is not JSON"
                    ) from None
        if not isinstance(response, ChatCompletion):  # a proxy's HTML page, sent with a 200
            raise TransientError(
                f"{self.base_url} answered with something other than a chat completion "
                f"({type(response).__name__}); check that the base URL ends in /v1"
            )
        usage = response.usage
        spent = (usage.prompt_tokens + usage.completion_tokens) if usage else prompt_estimate
        session.limiter.settle(booking, spent)
        return self.read_answer(kind, parse, response, limit, prompt_estimate)

    def chat_body(self, kind: Kind, prompt: str, seed: int) -> dict[str, Any]:
        """The request a live call would send, as a Batch API line's ``body``."""
        messages = _messages(kind, prompt, None)
        params = self._params(kind, self.mode(), self.max_tokens())
        return {"model": self.model, "messages": messages, "seed": seed, **params}

    def read_answer(
        self,
        kind: Kind,
        parse: type[M],
        response: ChatCompletion,
        limit: int,
        prompt_estimate: int,
    ) -> Generation[M]:
        """A completion checked as every answer is (``openai_answers``)."""
        return read_completion(kind, parse, response, prompt_estimate, self._cut_off(limit))

    async def write_outline(
        self,
        request: ScriptRequest,
        total: int,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Outline]:
        prompt = outline_prompt(request, total)
        return await self._call("outline", prompt, Outline, attempt, feedback, request.seed, hedge)

    async def write_bible(
        self,
        request: ScriptRequest,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Bible]:
        prompt = bible_prompt(request)
        return await self._call("bible", prompt, Bible, attempt, feedback, request.seed, hedge)

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        return await self._call(
            "scene", scene_prompt(task), SceneDraft, attempt, feedback, task.request.seed, hedge
        )
