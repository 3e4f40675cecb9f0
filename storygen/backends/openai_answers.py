"""A chat completion read as every answer is: live, streamed or from a Batch API line.

Cut off, empty or off-schema is an error the caller retries: a completion is never taken
for a scene because it parsed as far as it went.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from storygen.backends.openai_stream import Streamed
from storygen.core.errors import MalformedOutputError, TransientError
from storygen.core.prompts import Kind, estimate_tokens, extract_json
from storygen.core.rate_headers import RateHeaders
from storygen.core.tasks import Generation

M = TypeVar("M", bound=BaseModel)
Plain = tuple[ChatCompletion, RateHeaders | None]  # a plain call's answer and its headers


async def plain_answer(client: openai.AsyncOpenAI, request: dict[str, Any], where: str) -> Plain:
    """One plain call; the raw response only adds its rate-limit headers."""
    raw = await client.chat.completions.with_raw_response.create(**request)
    response = raw.parse()
    if not isinstance(response, ChatCompletion):  # a proxy's HTML page, sent with a 200
        raise TransientError(
            f"{where} answered with something other than a chat completion "
            f"({type(response).__name__}); check that the base URL ends in /v1"
        )
    return response, RateHeaders.parse(raw.headers)


def usage_of(answer: Streamed | Plain) -> CompletionUsage | None:
    return answer.usage if isinstance(answer, Streamed) else answer[0].usage


def checked_answer(
    kind: Kind,
    parse: type[M],
    answer: Streamed | Plain,
    prompt_estimate: int,
    cut_off: MalformedOutputError,
) -> Generation[M]:
    """A plain or streamed answer checked alike, with the server's rate headers."""
    if isinstance(answer, Streamed):
        usage, content, finish = answer.usage, answer.content, answer.finish_reason
        gen = read_text(kind, parse, content, finish, usage, prompt_estimate, cut_off)
        return replace(gen, rate=answer.rate)
    gen = read_completion(kind, parse, answer[0], prompt_estimate, cut_off)
    return replace(gen, rate=answer[1])


def read_completion(
    kind: Kind,
    parse: type[M],
    response: ChatCompletion,
    prompt_estimate: int,
    cut_off: MalformedOutputError,
) -> Generation[M]:
    """``cut_off``: the error that says what to do when the token limit stopped the answer."""
    choice = response.choices[0] if response.choices else None
    return read_text(
        kind,
        parse,
        choice.message.content if choice else None,
        choice.finish_reason if choice else None,
        response.usage,
        prompt_estimate,
        cut_off,
    )


def read_text(
    kind: Kind,
    parse: type[M],
    content: str | None,
    finish_reason: str | None,
    usage: CompletionUsage | None,
    prompt_estimate: int,
    cut_off: MalformedOutputError,
) -> Generation[M]:
    """An answer's text, whether it came in one body or joined from a stream."""
    prompt_tokens = usage.prompt_tokens if usage else prompt_estimate
    cut = finish_reason == "length"
    if not content:
        raise cut_off if cut else MalformedOutputError("the answer was empty")
    try:
        value = parse.model_validate(extract_json(content))
    except ValueError as exc:
        if cut:  # the JSON is incomplete because the limit stopped it, not the model
            raise cut_off from None
        reason = exc.errors()[:3] if isinstance(exc, ValidationError) else exc
        raise MalformedOutputError(
            f"the answer did not match the {kind} schema: {reason}"
        ) from None
    completion_tokens = usage.completion_tokens if usage else estimate_tokens(content)
    return Generation(value, prompt_tokens, completion_tokens)
