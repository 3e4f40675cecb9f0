"""One streamed chat answer read as it arrives: first token, summary, runaway, usage.

A pipelined scene's successor starts on its summary, the scene schema's first field: it
is read from the partial JSON with jiter's partial mode ("on" drops an unfinished string,
so a summary it returns is complete), never from a parser of our own. A stream is closed
as soon as its answer runs away or its first token is late, so the server stops writing.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import jiter
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from pydantic import BaseModel

from storygen.backends.runaway import RunawayWatch, runaway_feedback
from storygen.core.errors import RunawayError, TransientError
from storygen.core.rate_headers import RateHeaders
from storygen.core.tasks import StreamEvents

_THINK_END = "</think>"
_AT = re.compile(r"line (\d+) column (\d+)")


@dataclass(frozen=True)
class Streamed:
    """What a stream came to: the joined text, as a plain answer's message would hold it."""

    content: str
    finish_reason: str | None
    usage: CompletionUsage | None
    rate: RateHeaders | None
    summary_told: bool  # events.summary was called while it streamed


def _json_start(text: str) -> int | None:
    """Where the JSON object starts, past a leading <think> block or a ```json fence."""
    head = text.lstrip()
    start = 0
    if head[:7].lower() == "<think>":
        end = text.lower().find(_THINK_END)
        if end < 0:
            return None
        start = end + len(_THINK_END)
    brace = text.find("{", start)
    return brace if brace >= 0 else None


def _before_error(data: bytes, error: ValueError) -> bytes | None:
    """The text before the character jiter stopped at (a raw newline inside a string, as
    grammar-bound servers write, or text after the object): what is sure so far."""
    m = _AT.search(str(error))
    if m is None:
        return None
    line, column = int(m.group(1)), int(m.group(2))
    offset = 0
    for _ in range(line - 1):
        offset = data.find(b"\n", offset) + 1
        if offset == 0:
            return None
    return data[: max(0, offset + column - 1)]


def partial_summary(text: str) -> str | None:
    """The answer's top-level "summary", once its string is complete in ``text``."""
    start = _json_start(text)
    if start is None:
        return None
    data = text[start:].encode()
    try:
        value = jiter.from_json(data, partial_mode="on")
    except ValueError as exc:
        prefix = _before_error(data, exc)
        if not prefix:
            return None
        try:
            value = jiter.from_json(prefix, partial_mode="on")
        except ValueError:
            return None
    summary = value.get("summary") if isinstance(value, dict) else None
    return summary if isinstance(summary, str) else None


@dataclass
class _Reading:
    """The state of one stream as its chunks come in."""

    events: StreamEvents
    watch: RunawayWatch
    wants_summary: bool
    parts: list[str]
    finish_reason: str | None = None
    usage: CompletionUsage | None = None
    alive: bool = False  # text came (content or a reasoning model's thoughts)
    first: bool = False  # content came: events.first_token was called
    summary_told: bool = False

    def take(self, chunk: ChatCompletionChunk) -> None:
        """Read one chunk; RunawayError if the answer ran away with it."""
        self.usage = chunk.usage or self.usage
        for choice in chunk.choices[:1]:
            self.finish_reason = choice.finish_reason or self.finish_reason
            extra = choice.delta.model_extra or {}
            thought = extra.get("reasoning_content") or extra.get("reasoning")
            self.alive = self.alive or bool(thought)
            if choice.delta.content:
                self._content(choice.delta.content)

    def _content(self, delta: str) -> None:
        self.alive = True
        if not self.first:
            self.first = True
            self.events.first_token()
        self.parts.append(delta)
        if (reason := self.watch.feed(delta)) is not None:
            raise RunawayError(runaway_feedback(reason, self.watch.expected_tokens))
        if self.wants_summary and not self.summary_told and '"' in delta:
            summary = partial_summary("".join(self.parts))
            if summary is not None:
                self.summary_told = True
                self.events.summary(summary)


async def stream_answer(
    client: openai.AsyncOpenAI,
    request: dict[str, Any],
    *,
    usage: bool,
    events: StreamEvents,
    watch: RunawayWatch,
    wants_summary: bool,
    first_token_s: float | None,
    timeout_s: float,
    where: str,
) -> Streamed:
    """Open the stream and read it to its end. The first text must come within
    ``first_token_s`` and the whole answer within ``timeout_s``, else TransientError (a
    hang: retried or hedged); RunawayError if it ran away. The stream is closed either way.
    ``usage``: ask for the usage chunk (a server may refuse stream_options)."""
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if usage else {}
    options.update(request)
    reading = _Reading(events, watch, wants_summary, [])
    loop = asyncio.get_running_loop()
    whole = loop.time() + timeout_s
    first = loop.time() + first_token_s if first_token_s is not None else whole
    try:
        async with asyncio.timeout_at(min(first, whole)) as deadline:
            stream = await client.chat.completions.create(stream=True, **options)
            try:
                rate = RateHeaders.parse(stream.response.headers)
                async for chunk in stream:
                    reading.take(chunk)
                    if reading.alive and deadline.when() != whole:
                        deadline.reschedule(whole)
            finally:
                await stream.close()
    except json.JSONDecodeError:  # the SDK reads each chunk's data as JSON
        raise TransientError(f"{where} sent a stream chunk that is not JSON") from None
    except TimeoutError:
        if not reading.alive and first_token_s is not None and first < whole:
            raise TransientError(
                f"no first token within {first_token_s:g} s from {where}"
            ) from None
        raise TransientError(f"request to {where} timed out after {timeout_s:g} s") from None
    if reading.finish_reason is None:
        raise TransientError(f"the stream from {where} ended before its answer was finished")
    content = "".join(reading.parts)
    return Streamed(content, reading.finish_reason, reading.usage, rate, reading.summary_told)


def tell_the_rest(events: StreamEvents, value: BaseModel, answer: object) -> None:
    """What a plain call (or a stream whose summary could not be read early) tells at its
    end: the first token, then the summary, each once."""
    if not isinstance(answer, Streamed):
        events.first_token()
    elif answer.summary_told:
        return
    summary = getattr(value, "summary", None)
    if isinstance(summary, str):
        events.summary(summary)
