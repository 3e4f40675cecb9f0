"""OpenAI and any OpenAI-compatible server, through the official SDK.

The SDK's own retries are off: tenacity in the engine is the only retry loop, so a
429's Retry-After, our backoff and the key pool's cool-downs are all in one place.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from storygen.backends.config import DEFAULT_MODEL, BackendConfig, mask
from storygen.core.errors import (
    InvalidRequestError,
    MalformedOutputError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from storygen.core.models import Outline, SceneDraft, ScriptRequest
from storygen.core.prompts import (
    CUT_OFF,
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
from storygen.core.tasks import Generation, SceneTask
from storygen.policies.limits import KeyPool, RateLimiter

OPENAI_URL = "https://api.openai.com/v1"
Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
M = TypeVar("M", bound=BaseModel)
MAX_TOKENS_CEILING = 32000  # BackendConfig.max_tokens' upper bound

# Detected once per (server, model): which structured-output mode it accepts, whether
# it wants max_completion_tokens and refuses temperature (reasoning models), and the
# largest answer it said it allows.
_server_modes: dict[tuple[str, str], Mode] = {}
_server_quirks: dict[tuple[str, str], set[str]] = {}
_server_token_caps: dict[tuple[str, str], int] = {}

# Statuses that never mean "this response_format is not supported", whatever the body says.
_NOT_A_FORMAT_REFUSAL = frozenset({401, 402, 403, 408, 409, 429})


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


def _text(exc: openai.APIStatusError) -> str:
    return f"{exc.message} {exc.code} {exc.body}".lower()


def _refuses_format(exc: openai.APIStatusError) -> bool:
    """The server does not support the response_format asked for, at whatever status it
    says so: 400 (OpenAI, older vLLM, LM Studio), 422, 404, or 500 (llama-cpp-python's
    pydantic literal_error, llama.cpp's server before it learned json_schema)."""
    if exc.status_code in _NOT_A_FORMAT_REFUSAL:
        return False
    text = _text(exc)
    return any(w in text for w in ("response_format", "json_schema", "json_object", "json mode"))


def _quirk(exc: openai.APIStatusError) -> str | None:
    """A parameter this model refuses, which we can do without."""
    text = _text(exc)
    refused = "unsupported" in text or "not support" in text
    if "max_tokens" in text and "max_completion_tokens" in text and refused:
        return "max_completion_tokens"
    if "temperature" in text and refused:
        return "no_temperature"
    return None


_STATED_CAPS = (
    re.compile(r"supports at most (\d+) completion tokens"),  # OpenAI
    re.compile(r"expected a value <= ?(\d+)"),
    re.compile(r"less than or equal to (\d+)"),
)
_CONTEXT_LEFT = re.compile(  # vLLM: the answer must fit in what the prompt leaves free
    r"maximum context length is (\d+) tokens and your request has (\d+) input tokens"
)


def _stated_token_cap(exc: openai.APIStatusError) -> int | None:
    """The largest max_tokens the server says it allows, if it refused ours as too large."""
    text = _text(exc)
    if not ("max_tokens" in text or "max_completion_tokens" in text):
        return None
    if m := _CONTEXT_LEFT.search(text):
        return int(m.group(1)) - int(m.group(2))
    for pattern in _STATED_CAPS:
        if m := pattern.search(text):
            return int(m.group(1))
    return None


def _context_too_long(exc: openai.APIStatusError) -> bool:
    text = _text(exc)
    return any(
        w in text
        for w in (
            "context_length_exceeded",  # OpenAI, llama-cpp-python
            "maximum context length",  # OpenAI, vLLM, llama-cpp-python
            "exceed_context_size",  # llama.cpp's server
            "exceeds the available context size",
        )
    )


def _messages(kind: Kind, prompt: str, feedback: str | None) -> list[dict[str, str]]:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{prompt}\n\n{json_instruction(kind)}"},
    ]
    if feedback:
        messages.append({"role": "user", "content": repair_request(feedback)})
    return messages


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
            limit = min(2 * limit, MAX_TOKENS_CEILING)
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

    def _too_long(self, prompt_tokens: int, limit: int, detail: str) -> PermanentError:
        return PermanentError(
            f"the prompt is too long for {self.model} at {self.base_url}: about "
            f"{prompt_tokens} tokens by our estimate, plus max_tokens={limit} for the answer "
            f"({detail}). Quote fewer previous scenes with --context-scenes, or use a "
            "shorter style or idea (or a lower --max-tokens)"
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
                    refused = exc.status_code in (400, 413, 422)
                    if refused and (q := _quirk(exc)) and q not in adapted:
                        adapted.add(q)  # once per call: a second refusal is real
                        _server_quirks.setdefault(server, set()).add(q)
                        continue  # same attempt, without the refused parameter
                    cap = _stated_token_cap(exc) if refused else None
                    if cap is not None and 16 <= cap < limit and "cap" not in adapted:
                        adapted.add("cap")
                        _server_token_caps[server] = min(cap, _server_token_caps.get(server, cap))
                        continue  # same attempt, within what the server allows
                    if refused and _context_too_long(exc):
                        detail = _masked(str(exc.message), self.keys)[:300]
                        raise self._too_long(prompt_estimate, limit, detail) from None
                    if mode != "prompt" and _refuses_format(exc):
                        simpler = MODES.index(mode) + 1  # only ever step down
                        _server_modes[server] = MODES[max(simpler, MODES.index(self.mode()))]
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
        """A completion checked as every answer is: cut off, empty or off-schema is an error
        the caller retries; live calls and Batch API lines go through here alike."""
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else prompt_estimate
        completion_tokens = usage.completion_tokens if usage else 0
        choice = response.choices[0] if response.choices else None
        cut = choice is not None and choice.finish_reason == "length"
        if choice is None or not choice.message.content:
            raise self._cut_off(limit) if cut else MalformedOutputError("the answer was empty")
        try:
            value = parse.model_validate(extract_json(choice.message.content))
        except ValueError as exc:
            if cut:  # the JSON is incomplete because the limit stopped it, not the model
                raise self._cut_off(limit) from None
            reason = exc.errors()[:3] if isinstance(exc, ValidationError) else exc
            raise MalformedOutputError(
                f"the answer did not match the {kind} schema: {reason}"
            ) from None
        if not usage:
            completion_tokens = estimate_tokens(choice.message.content)
        return Generation(value, prompt_tokens, completion_tokens)

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

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        return await self._call(
            "scene", scene_prompt(task), SceneDraft, attempt, feedback, task.request.seed, hedge
        )
