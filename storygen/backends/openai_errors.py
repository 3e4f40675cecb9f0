"""What an OpenAI-compatible server's refusals mean, and the SDK's errors as storygen's.

Servers say the same thing in different words and at different statuses (OpenAI, vLLM,
llama.cpp, LM Studio...): the wording each one uses is kept here, apart from the calls.
"""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any

import openai

from storygen.core.bounds import MAX_TOKENS
from storygen.core.errors import PermanentError, RateLimitedError, TransientError
from storygen.core.secrets import masked

# Statuses that never mean "this response_format is not supported", whatever the body says.
_NOT_A_FORMAT_REFUSAL = frozenset({401, 402, 403, 408, 409, 429})

_STATED_CAPS = (
    re.compile(r"supports at most (\d+) completion tokens"),  # OpenAI
    re.compile(r"expected a value <= ?(\d+)"),
    re.compile(r"less than or equal to (\d+)"),
)
_CONTEXT_LEFT = re.compile(  # vLLM: the answer must fit in what the prompt leaves free
    r"maximum context length is (\d+) tokens and your request has (\d+) input tokens"
)


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


def refuses_format(exc: openai.APIStatusError) -> bool:
    """The server does not support the response_format asked for, at whatever status it
    says so: 400 (OpenAI, older vLLM, LM Studio), 422, 404, or 500 (llama-cpp-python's
    pydantic literal_error, llama.cpp's server before it learned json_schema)."""
    if exc.status_code in _NOT_A_FORMAT_REFUSAL:
        return False
    text = _text(exc)
    return any(w in text for w in ("response_format", "json_schema", "json_object", "json mode"))


def quirk(exc: openai.APIStatusError) -> str | None:
    """A parameter this model refuses, which we can do without."""
    text = _text(exc)
    refused = "unsupported" in text or "not support" in text
    if "max_tokens" in text and "max_completion_tokens" in text and refused:
        return "max_completion_tokens"
    if "temperature" in text and refused:
        return "no_temperature"
    return None


_STREAM = re.compile(r"\bstream(ing|_options)?\b")
_REFUSAL = ("not support", "unsupported", "not allowed", "not permitted", "extra ", "invalid")


def refuses_streaming(exc: openai.APIStatusError) -> str | None:
    """What a server that cannot stream refused: "stream", or only "stream_options" (it
    streams without usage); None for any other refusal ("upstream" is not "stream")."""
    if exc.status_code not in (400, 422, 500):
        return None
    text, param = _text(exc), (exc.param or "").lower()
    named = param if param in ("stream", "stream_options") else None
    if named is None and (m := _STREAM.search(text)) and any(w in text for w in _REFUSAL):
        named = "stream_options" if m.group(1) == "_options" else "stream"
    return named


def stated_token_cap(exc: openai.APIStatusError) -> int | None:
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


def usable_cap(cap: int | None, limit: int) -> bool:
    """A stated cap worth asking within: below our limit, and not absurdly small."""
    return cap is not None and MAX_TOKENS.low <= cap < limit


def context_too_long(exc: openai.APIStatusError) -> bool:
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


# A proxy may refuse a wrong key at another status than 401/403 (LiteLLM: 400 "Authentication
# Error, Invalid proxy server token passed"): its own words say that it is the key.
_ABOUT_THE_KEY = re.compile(r"\bauth|api[ _-]?key|\btoken\b|credential", re.IGNORECASE)


def about_the_key(said: str) -> bool:
    """The server's words blame the key (not "max_tokens": a word of its own)."""
    return _ABOUT_THE_KEY.search(said) is not None


def detail(exc: openai.APIStatusError, keys: list[str]) -> str:
    """The server's own words, short, with any key it echoed masked."""
    return masked(str(exc.message), keys)[:300]


def server_words(exc: openai.APIStatusError, keys: list[str]) -> str:
    """What the server said, without the SDK's "Error code: 400 - " before it."""
    said = exc.body.get("message") if isinstance(exc.body, dict) else None
    return masked(str(said or exc.message), keys)[:300]


def sdk_error(
    exc: Exception, *, where: str, keys: list[str], timeout_s: float, model: str
) -> Exception:
    """SDK errors to ours: transient ones are retried, permanent ones say what to fix."""
    if isinstance(exc, openai.APITimeoutError):
        return TransientError(f"request to {where} timed out after {timeout_s:g} s")
    if isinstance(exc, openai.APIConnectionError):
        return TransientError(f"could not connect to {where}")
    if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIStatusError):
        # an error event inside a 200 stream: the server gave up on this answer
        return TransientError(f"{where} sent an error mid-answer: {masked(exc.message, keys)}")
    if not isinstance(exc, openai.APIStatusError):
        return exc
    status, said = exc.status_code, detail(exc, keys)
    quota = "insufficient_quota" in f"{exc.code} {exc.type} {exc.body}"
    if status == 402 or quota:
        return PermanentError(f"quota exhausted at {where}: add credit or use another key")
    if status == 429:
        return RateLimitedError(f"rate limited by {where}", retry_after_s(exc.response.headers))
    if status in (401, 403) or (status == 400 and about_the_key(server_words(exc, keys))):
        return PermanentError(f"the API key was rejected by {where} ({status}: {said})")
    if status == 404:
        return PermanentError(
            f"model {model} not found at {where} (check the model name and that the "
            f"base URL ends in /v1; {said})"
        )
    if status == 409 or status >= 500:
        return TransientError(f"{where} answered {status}: {said}")
    return PermanentError(f"{where} refused the request ({status}: {said})")


def too_long(model: str, where: str, prompt_tokens: int, limit: int, said: str) -> PermanentError:
    return PermanentError(
        f"the prompt is too long for {model} at {where}: about "
        f"{prompt_tokens} tokens by our estimate, plus max_tokens={limit} for the answer "
        f"({said}). Quote fewer previous scenes with --context-scenes, or use a "
        "shorter style or idea (or a lower --max-tokens)"
    )
