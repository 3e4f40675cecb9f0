"""What each OpenAI-compatible server was found to accept, learned from its refusals.

Detected once per (server, model) and kept for the process: which structured-output
mode it accepts, whether it wants max_completion_tokens and refuses temperature
(reasoning models), whether it cannot stream (and why) or streams without usage, and the
largest answer it allows. Every call after the first is sent as the server wants it.
"""

from __future__ import annotations

from typing import Literal

import openai

from storygen.backends.openai_errors import (
    context_too_long,
    detail,
    quirk,
    refuses_format,
    refuses_streaming,
    server_words,
    stated_token_cap,
    too_long,
    usable_cap,
)
from storygen.core.tasks import StreamEvents

Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
Server = tuple[str, str]  # (base URL, model)
REFUSED = frozenset({400, 413, 422})  # statuses of a request refused as written

_modes: dict[Server, Mode] = {}
_quirks: dict[Server, set[str]] = {}
_token_caps: dict[Server, int] = {}
_cannot_stream: dict[Server, str] = {}


def mode_of(server: Server) -> Mode:
    return _modes.get(server, "json_schema")


def quirks_of(server: Server) -> frozenset[str]:
    return frozenset(_quirks.get(server, ()))


def token_cap(server: Server) -> int | None:
    return _token_caps.get(server)


def cannot_stream(server: Server) -> str | None:
    """Why this server cannot stream ("<url> cannot stream: <its words>"), if it cannot."""
    return _cannot_stream.get(server)


def learned(exc: openai.APIStatusError, server: Server, limit: int, adapted: set[str]) -> bool:
    """Whether a refusal named a parameter the server does without, or the most tokens it
    allows: then the call is sent again without it. Once per call: a second refusal is real."""
    refused = exc.status_code in REFUSED
    if refused and (q := quirk(exc)) and q not in adapted:
        adapted.add(q)
        _quirks.setdefault(server, set()).add(q)
        return True
    cap = stated_token_cap(exc) if refused else None
    if cap is not None and usable_cap(cap, limit) and "cap" not in adapted:
        adapted.add("cap")
        _token_caps[server] = min(cap, _token_caps.get(server, cap))
        return True
    return False


def unstreamed(
    exc: openai.APIStatusError, server: Server, adapted: set[str], keys: list[str]
) -> bool:
    """Whether a streamed call was refused for streaming: then it is sent again plain (or
    streamed without usage, if only stream_options was refused). Once per call."""
    refused = refuses_streaming(exc)
    if refused is None or refused in adapted:
        return False
    adapted.add(refused)
    if refused == "stream_options":
        _quirks.setdefault(server, set()).add("no_stream_options")
    else:
        _cannot_stream[server] = f"{server[0]} cannot stream: {server_words(exc, keys)}"
    return True


def stepped_down(exc: openai.APIStatusError, server: Server, mode: Mode) -> bool:
    """Whether the server refused this structured-output mode: the next call uses a simpler
    one, and only ever a simpler one (another call may have stepped down meanwhile)."""
    if mode == "prompt" or not refuses_format(exc):
        return False
    current = mode_of(server)
    _modes[server] = MODES[max(MODES.index(mode) + 1, MODES.index(current))]
    return True


def adapt(
    exc: openai.APIStatusError,
    server: Server,
    mode: Mode,
    limit: int,
    adapted: set[str],
    keys: list[str],
    prompt_estimate: int,
) -> bool:
    """Whether the refusal says how to ask again: without a parameter, within a stated
    cap, or in a simpler mode. A prompt too long for the model is a PermanentError."""
    if learned(exc, server, limit, adapted):
        return True
    if exc.status_code in REFUSED and context_too_long(exc):
        where, model = server
        raise too_long(model, where, prompt_estimate, limit, detail(exc, keys)) from None
    return stepped_down(exc, server, mode)


def may_stream(server: Server, always: bool, told: StreamEvents) -> bool:
    """Stream when asked to (``always``: --stream; or the engine needs the summary early),
    unless the server cannot: then say why."""
    if not (always or told.needed):
        return False
    if (why := cannot_stream(server)) is not None:
        told.unstreamed(why)
        return False
    return True
