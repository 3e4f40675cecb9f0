"""OpenAI and any OpenAI-compatible server, through the official SDK.

The SDK's own retries are off: tenacity in the engine is the only retry loop, so a
429's Retry-After, our backoff and the key pool's cool-downs are all in one place.
A scene streams when the engine needs its summary early (pipelined) or the user asks
(--stream); what each server refused is learned once (``openai_servers``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from storygen.backends.config import DEFAULT_MODEL, OPENAI_URL, BackendConfig
from storygen.backends.openai_answers import (
    Plain,
    checked_answer,
    plain_answer,
    read_completion,
    usage_of,
)
from storygen.backends.openai_errors import sdk_error
from storygen.backends.openai_servers import (
    Mode,
    Server,
    adapt,
    may_stream,
    mode_of,
    quirks_of,
    token_cap,
    unstreamed,
)
from storygen.backends.openai_stream import Streamed, stream_answer, tell_the_rest
from storygen.backends.runaway import RunawayWatch
from storygen.core.answer_size import (
    REASONING_TOKENS,
    expected_for_prompt,
    expected_tokens,
    token_limit,
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
from storygen.core.tasks import Generation, SceneTask, StreamEvents
from storygen.policies.limits import KeyPool, RateLimiter

M = TypeVar("M", bound=BaseModel)


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
    streams = True  # write_scene takes StreamEvents

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

    @property
    def server(self) -> Server:
        return (self.base_url, self.model)

    def mode(self) -> Mode:
        return mode_of(self.server)

    def max_tokens(self, feedback: str | None = None, expected: int | None = None) -> int:
        """The answer's limit: --max-tokens, or sized to the answer expected (a scene of
        8 s if not said; a reasoning model's thoughts count too), doubled once after an
        answer was cut off (up to the ceiling), never above what the server allows."""
        limit = self.config.max_tokens
        if limit is None:
            limit = token_limit(expected or expected_tokens("scene", "en"))
            if "max_completion_tokens" in quirks_of(self.server):
                limit = min(limit + REASONING_TOKENS, int(MAX_TOKENS.high))
        if feedback and feedback.startswith(CUT_OFF):
            limit = min(2 * limit, int(MAX_TOKENS.high))
        cap = token_cap(self.server)
        return min(limit, cap) if cap else limit

    def _params(self, kind: Kind, mode: Mode, limit: int) -> dict[str, Any]:
        quirks = quirks_of(self.server)
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
        if limit == token_cap(self.server):
            advice = f"the most {self.base_url} allows for {self.model}; use a model that "
            advice += "can answer at more length"
        else:
            chosen = self.config.max_tokens
            above = f" above {limit}" if chosen is None or limit > chosen else ""
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
        events: StreamEvents | None = None,
    ) -> Generation[M]:
        """One answer, streamed if ``events`` need it (or --stream), else plain."""
        session = self._session()
        messages = _messages(kind, prompt, feedback)
        prompt_estimate = sum(estimate_tokens(m["content"]) for m in messages)
        expected = expected_for_prompt(kind, prompt)
        told = events or StreamEvents()
        stream = may_stream(self.server, self.config.stream, told)
        headers = {"X-Storygen-Attempt": str(attempt)}
        if hedge:  # real servers ignore it; serve-sim draws a backup's latency apart
            headers["X-Storygen-Hedge"] = str(hedge)
        async with session.pool.key() as k:
            limit = self.max_tokens(feedback, expected)
            booking = await session.limiter.acquire(prompt_estimate + limit)
            adapted: set[str] = set()
            while True:
                mode, limit = self.mode(), self.max_tokens(feedback, expected)
                request: dict[str, Any] = {
                    "model": self.model,
                    "messages": messages,
                    "seed": seed,
                    "extra_headers": headers,
                    **self._params(kind, mode, limit),
                }
                try:
                    if stream:
                        answer: Streamed | Plain = await stream_answer(
                            session.clients[k],
                            request,
                            usage="no_stream_options" not in quirks_of(self.server),
                            events=told,
                            watch=RunawayWatch(expected),
                            wants_summary=kind == "scene",
                            first_token_s=self.config.first_token_timeout_s,
                            timeout_s=self.config.timeout_s,
                            where=self.base_url,
                        )
                    else:
                        answer = await plain_answer(session.clients[k], request, self.base_url)
                    break
                except openai.APIStatusError as exc:
                    if stream and unstreamed(exc, self.server, adapted, self.keys):
                        stream = may_stream(self.server, self.config.stream, told)
                        continue  # same attempt, plain (or without stream_options)
                    if adapt(exc, self.server, mode, limit, adapted, self.keys, prompt_estimate):
                        continue  # same attempt, as the server wants it
                    raise self._refused(exc, session, k) from None
                except openai.OpenAIError as exc:
                    raise self._error(exc) from None
                except ValueError:  # a 200 whose body was cut short: the SDK could not parse it
                    raise TransientError(
                        f"{self.base_url} answered with a body that is not JSON"
                    ) from None
        usage = usage_of(answer)
        spent = (usage.prompt_tokens + usage.completion_tokens) if usage else prompt_estimate
        session.limiter.settle(booking, spent)
        gen = checked_answer(kind, parse, answer, prompt_estimate, self._cut_off(limit))
        if events is not None:
            tell_the_rest(events, gen.value, answer)
        return gen

    def _refused(self, exc: openai.APIStatusError, session: _Session, k: int) -> Exception:
        error = self._error(exc)
        if isinstance(error, RateLimitedError):
            wait = 1.0 if error.retry_after is None else error.retry_after
            session.pool.cool_down(k, wait)  # "retry after 0" is not "unknown"
            error.retry_after = session.pool.next_free_in()
        return error

    def chat_body(self, kind: Kind, prompt: str, seed: int) -> dict[str, Any]:
        """The request a live call would send, as a Batch API line's ``body``."""
        messages = _messages(kind, prompt, None)
        limit = self.max_tokens(None, expected_for_prompt(kind, prompt))
        params = self._params(kind, self.mode(), limit)
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
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        """Streamed when ``events.needed`` (pipelined) or --stream; ``events`` are told the
        first token and the summary as they arrive, or at the end of a plain call."""
        prompt, seed = scene_prompt(task), task.request.seed
        return await self._call(
            "scene", prompt, SceneDraft, attempt, feedback, seed, hedge, events=events
        )
