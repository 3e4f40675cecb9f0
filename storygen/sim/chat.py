"""One chat call as serve-sim reads, refuses, completes and answers it, and its drawn fault.

No transport here (no key, rate limit, latency or connection): the live endpoint
(chat_routes.py) wraps these in HTTP, and a Batch API line (batch_store.py) is answered by
``answer_chat`` directly, so both give the same text, usage and refusals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storygen.backends.simulated_text import write_answer
from storygen.core.prompts import ParsedCall, estimate_tokens, parse_prompt
from storygen.sim.config import SimServerConfig
from storygen.sim.errors import NOT_STORYGEN, Answer, error_body, server_error, validation_500
from storygen.sim.faults import FILLER, kind, run_away, strike_share

# The response formats each structured mode accepts ("none" accepts none).
_SUPPORTED = {
    "json_schema": {"json_schema", "json_object"},
    "json_object": {"json_object"},
    "refuse-500": {"json_object"},
}


@dataclass(frozen=True)
class ChatCall:
    """One chat body as serve-sim reads it, before it is answered."""

    body: dict[str, Any]
    parsed: ParsedCall | None  # None: not one of storygen's outline, bible or scene prompts
    seed: int
    mode: str  # the response_format asked for: json_schema, json_object or none
    max_tokens: int | None  # max_tokens or max_completion_tokens, as asked
    prompt_tokens: int  # every message, counted as serve-sim counts usage

    @property
    def streamed(self) -> bool:
        """The body asks for server-sent events ("stream": true)."""
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        """A streamed answer ends with a usage chunk (stream_options.include_usage)."""
        return bool((self.body.get("stream_options") or {}).get("include_usage"))

    @property
    def call(self) -> str | None:
        """The call's name, as the in-process simulator keys its draws: "outline", "bible"
        or "scene3"."""
        if self.parsed is None:
            return None
        return f"scene{self.parsed.index}" if self.parsed.kind == "scene" else self.parsed.kind


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
    return (
        _refuse_model(config, chat.body)
        or _refuse_stream(config, chat)
        or _refuse_format(config, chat.mode)
        or _refuse_length(config, chat)
    )


def _refuse_stream(config: SimServerConfig, chat: ChatCall) -> Answer | None:
    """A server that cannot stream names the parameter it refuses."""
    if chat.streamed and not config.streaming:
        message = "stream is not supported by this server"
        return 400, error_body(message, "unsupported_parameter", param="stream")
    return None


def _refuse_model(config: SimServerConfig, body: dict[str, Any]) -> Answer | None:
    model = body.get("model")
    if model not in config.models:
        return 404, error_body(f"The model `{model}` does not exist.", "model_not_found")
    if config.reasoning_model and "max_tokens" in body:
        return 400, error_body(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "unsupported_parameter",
        )
    if config.reasoning_model and body.get("temperature") not in (None, 1):
        return 400, error_body(
            "Unsupported value: 'temperature' does not support 0.9 with this model.",
            "unsupported_value",
        )
    return None


def _refuse_format(config: SimServerConfig, mode: str) -> Answer | None:
    fmt = None if mode == "none" else mode
    if config.structured == "refuse-500" and fmt not in (None, "text", "json_object"):
        return validation_500(mode)
    if fmt and fmt not in _SUPPORTED.get(config.structured, set()):
        return 400, error_body(f"response_format {fmt} is not supported by this server")
    return None


def _refuse_length(config: SimServerConfig, chat: ChatCall) -> Answer | None:
    asked = chat.max_tokens
    if config.max_tokens_limit is not None and asked and asked > config.max_tokens_limit:
        return 400, error_body(
            f"max_tokens is too large: {asked}. This model supports at most "
            f"{config.max_tokens_limit} completion tokens, whereas you provided {asked}.",
            "invalid_value",
        )
    window = config.context_tokens
    if window is None or chat.prompt_tokens + (asked or 0) <= window:
        return None
    if chat.prompt_tokens > window:
        told = f"However, your messages resulted in {chat.prompt_tokens} tokens. "
        fix = "Please reduce the length of the messages."
    else:
        told = (
            f"However, you requested {chat.prompt_tokens + (asked or 0)} tokens "
            f"({chat.prompt_tokens} in the messages, {asked} in the completion). "
        )
        fix = "Please reduce the length of the messages or completion."
    return 400, error_body(
        f"This model's maximum context length is {window} tokens. {told}{fix}",
        "context_length_exceeded",
    )


def _with_raw_control_characters(content: str) -> str:
    """The same JSON, pretty-printed, with raw newlines and tabs inside its strings."""
    data = json.loads(content)
    for key in ("narration", "visual_prompt", "logline"):
        if isinstance(data.get(key), str):
            first, _, rest = data[key].partition(" ")
            data[key] = f"{first}\n\t{rest}\n"
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace("\\n", "\n").replace("\\t", "\t")


def complete_chat(
    chat: ChatCall,
    fault: str,
    answer_id: str,
    created: int,
    attempt: int = 1,
    strike: float | None = None,
) -> dict[str, Any]:
    """The chat.completion the simulated LLM writes for a storygen prompt, with its usage;
    the faults "malformed", "newlines", "length:<N>", "runaway" and "loop" spoil the text
    as asked.

    The text is the in-process simulator's for the same prompt and attempt: both read the
    prompt alone (``parse_prompt``) and draw by (seed, call, attempt). ``strike``: where
    in the text a runaway begins (drawn by the caller, which knows the call's draw key)."""
    if chat.parsed is None:
        raise ValueError(NOT_STORYGEN)
    content = write_answer(chat.parsed, attempt).model_dump_json()
    finish, asked = "stop", chat.max_tokens
    if fault == "malformed":
        content = "Sure! Here is the scene: " + content[: len(content) // 2]
    elif fault == "newlines":
        content = _with_raw_control_characters(content)
    elif fault.startswith("length:") and (asked or 0) < int(fault.partition(":")[2]):
        content, finish = content[: len(content) // 2], "length"
    elif kind(fault) in FILLER:  # ran away: cut off at max_tokens
        share = (
            strike
            if strike is not None
            else strike_share(fault, chat.seed, chat.call or "", attempt)
        )
        content, asked = run_away(content, fault, round(share * len(content)), asked)
        finish = "length"
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


def answer_chat(
    config: SimServerConfig,
    body: dict[str, Any],
    answer_id: str,
    created: int,
    fault: str = "ok",
    attempt: int = 1,
) -> Answer:
    """One chat body answered as the live endpoint answers it, without the transport
    (no key, rate limit, latency or connection faults): what a Batch API line gets."""
    chat = read_chat(body)
    if (refused := refuse_chat(config, chat)) is not None:
        return refused
    if chat.parsed is None:
        return 400, error_body(NOT_STORYGEN)
    if fault.isdigit():
        return server_error(int(fault))
    return 200, complete_chat(chat, fault, answer_id, created, attempt)
