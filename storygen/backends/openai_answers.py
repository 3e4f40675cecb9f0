"""A chat completion read as every answer is, live or from a Batch API line alike.

Cut off, empty or off-schema is an error the caller retries: a completion is never taken
for a scene because it parsed as far as it went.
"""

from __future__ import annotations

from typing import TypeVar

from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from storygen.core.errors import MalformedOutputError
from storygen.core.prompts import Kind, estimate_tokens, extract_json
from storygen.core.tasks import Generation

M = TypeVar("M", bound=BaseModel)


def read_completion(
    kind: Kind,
    parse: type[M],
    response: ChatCompletion,
    prompt_estimate: int,
    cut_off: MalformedOutputError,
) -> Generation[M]:
    """``cut_off``: the error that says what to do when the token limit stopped the answer."""
    usage = response.usage
    prompt_tokens = usage.prompt_tokens if usage else prompt_estimate
    completion_tokens = usage.completion_tokens if usage else 0
    choice = response.choices[0] if response.choices else None
    cut = choice is not None and choice.finish_reason == "length"
    if choice is None or not choice.message.content:
        raise cut_off if cut else MalformedOutputError("the answer was empty")
    try:
        value = parse.model_validate(extract_json(choice.message.content))
    except ValueError as exc:
        if cut:  # the JSON is incomplete because the limit stopped it, not the model
            raise cut_off from None
        reason = exc.errors()[:3] if isinstance(exc, ValidationError) else exc
        raise MalformedOutputError(
            f"the answer did not match the {kind} schema: {reason}"
        ) from None
    if not usage:
        completion_tokens = estimate_tokens(choice.message.content)
    return Generation(value, prompt_tokens, completion_tokens)
