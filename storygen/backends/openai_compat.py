"""OpenAI and any OpenAI-compatible server, through the official SDK.

The SDK's own retries are off: tenacity in the engine is the only retry loop, so a
429's Retry-After, our backoff and the key pool's cool-downs are all in one place.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from storygen.backends.base import Generation, SceneTask
from storygen.config import DEFAULT_MODEL, BackendConfig, mask
from storygen.errors import (
    InvalidRequestError,
    MalformedOutputError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from storygen.limits import KeyPool, RateLimiter
from storygen.models import Outline, SceneDraft, ScriptRequest
from storygen.prompts import (
    SYSTEM,
    Kind,
    estimate_tokens,
    extract_json,
    json_instruction,
    outline_prompt,
    repair_request,
    scene_prompt,
    schema_for,
)

OPENAI_URL = "https://api.openai.com/v1"
Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
M = TypeVar("M", bound=BaseModel)

# Detected once per (server, model): which structured-output mode it accepts, and
# whether it wants max_completion_tokens and refuses temperature (reasoning models).
_server_modes: dict[tuple[str, str], Mode] = {}
_server_quirks: dict[tuple[str, str], set[str]] = {}


def _masked(text: str, keys: list[str]) -> str:
    for key in keys:
        text = text.replace(key, mask(key))
    return text


def retry_after_s(headers: Any) -> float | None:
    """retry-after-ms, then retry-after in seconds or as an HTTP date."""
    if headers is None:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _mentions_format(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {exc.body}".lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "json mode"))


def _quirk(exc: openai.APIStatusError) -> str | None:
    """A parameter this model refuses, which we can do without."""
    text = f"{exc.message} {exc.body}".lower()
    if "max_tokens" in text and "max_completion_tokens" in text:
        return "max_completion_tokens"
    if "temperature" in text and ("unsupported" in text or "not support" in text):
        return "no_temperature"
    return None


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

    def _params(self, kind: Kind, mode: Mode) -> dict[str, Any]:
        quirks = _server_quirks.get((self.base_url, self.model), set())
        params: dict[str, Any] = {}
        if "no_temperature" not in quirks:
            params["temperature"] = self.config.temperature
        limit = "max_completion_tokens" if "max_completion_tokens" in quirks else "max_tokens"
        params[limit] = self.config.max_tokens
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": kind, "schema": schema_for(kind), "strict": False},
            }
        elif mode == "json_object":
            params["response_format"] = {"type": "json_object"}
        return params

    def _error(self, exc: Exception) -> Exception:
        """SDK errors to ours: transient ones are retried, permanent ones say what to fix."""
        where, keys = self.base_url, self.keys
        if isinstance(exc, openai.APITimeoutError):
            return TransientError(f"request to {where} timed out after {self.config.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return TransientError(f"could not connect to {where}")
        if not isinstance(exc, openai.APIStatusError):
            return exc
        status, detail = exc.status_code, _masked(str(exc.message), keys)[:300]
        quota = "insufficient_quota" in f"{exc.code} {exc.type} {exc.body}"
        if status == 402 or quota:
            return PermanentError(f"quota exhausted at {where}: add credit or use another key")
        if status == 429:
            return RateLimitedError(f"rate limited by {where}", retry_after_s(exc.response.headers))
        if status in (401, 403):
            return PermanentError(f"the API key was rejected by {where} ({status}: {detail})")
        if status == 404:
            return PermanentError(
                f"model {self.model} not found at {where} (check the model name and that the "
                f"base URL ends in /v1; {detail})"
            )
        if status == 409 or status >= 500:
            return TransientError(f"{where} answered {status}: {detail}")
        return PermanentError(f"{where} refused the request ({status}: {detail})")

    async def _call(
        self, kind: Kind, prompt: str, parse: type[M], attempt: int, feedback: str | None, seed: int
    ) -> Generation[M]:
        session = self._session()
        messages: list[dict[str, str]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{prompt}\n\n{json_instruction(kind)}"},
        ]
        if feedback:
            messages.append({"role": "user", "content": repair_request(feedback)})
        estimate = sum(estimate_tokens(m["content"]) for m in messages) + self.config.max_tokens
        async with session.pool.key() as k:
            booking = await session.limiter.acquire(estimate)
            adapted: set[str] = set()
            while True:
                mode = self.mode()
                try:
                    response = await session.clients[k].chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        seed=seed,
                        extra_headers={"X-Storygen-Attempt": str(attempt)},
                        **self._params(kind, mode),
                    )
                    break
                except openai.APIStatusError as exc:
                    server, refused = (self.base_url, self.model), exc.status_code in (400, 422)
                    if refused and (q := _quirk(exc)) and q not in adapted:
                        adapted.add(q)  # once per call: a second refusal is real
                        _server_quirks.setdefault(server, set()).add(q)
                        continue  # same attempt, without the refused parameter
                    if refused and mode != "prompt" and _mentions_format(exc):
                        simpler = MODES.index(mode) + 1  # only ever step down
                        _server_modes[server] = MODES[max(simpler, MODES.index(self.mode()))]
                        continue  # same attempt, simpler mode
                    error = self._error(exc)
                    if isinstance(error, RateLimitedError):
                        session.pool.cool_down(k, error.retry_after or 1.0)
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
        prompt_tokens = usage.prompt_tokens if usage else estimate - self.config.max_tokens
        completion_tokens = usage.completion_tokens if usage else 0
        session.limiter.settle(booking, prompt_tokens + completion_tokens)
        choice = response.choices[0] if response.choices else None
        if choice is None or not choice.message.content:
            raise MalformedOutputError("the answer was empty")
        if choice.finish_reason == "length":
            raise MalformedOutputError(
                f"the answer was cut off at max_tokens={self.config.max_tokens}; be more concise"
            )
        try:
            value = parse.model_validate(extract_json(choice.message.content))
        except ValueError as exc:
            reason = exc.errors()[:3] if isinstance(exc, ValidationError) else exc
            raise MalformedOutputError(
                f"the answer did not match the {kind} schema: {reason}"
            ) from None
        if not usage:
            completion_tokens = estimate_tokens(choice.message.content)
        return Generation(value, prompt_tokens, completion_tokens)

    async def write_outline(
        self, request: ScriptRequest, total: int, *, attempt: int, feedback: str | None = None
    ) -> Generation[Outline]:
        return await self._call(
            "outline", outline_prompt(request, total), Outline, attempt, feedback, request.seed
        )

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None
    ) -> Generation[SceneDraft]:
        return await self._call(
            "scene", scene_prompt(task), SceneDraft, attempt, feedback, task.request.seed
        )
