"""A streamed answer as OpenAI sends it: server-sent events paced by the call's work.

``data: {chat.completion.chunk}`` events sharing one id, created and model: a first chunk
with the assistant's role, content deltas of a few tokens, a last choice chunk with the
finish reason, with ``stream_options.include_usage`` a chunk without choices carrying the
usage (every earlier chunk then says ``"usage": null``), and ``data: [DONE]``.

The call's work (its drawn latency) splits into the time to its first token and its text
at an even rate by characters, so a streamed call takes as long as a plain one. A piece
ends exactly where the summary's string closes, so the summary is known when the
in-process simulator says (``summary_share``). Mid-stream faults strike after a share of
the text (faults.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from storygen.backends.simulated import summary_share
from storygen.core.prompts import estimate_tokens
from storygen.sim.faults import FILLER, kind, runaway_cap
from storygen.sim.pace import Pace
from storygen.sim.service import Service
from storygen.sim.state import SimRequest

PIECE_CHARS = 16  # a few tokens a delta: real servers send one or two, at more CPU
BAD_CHUNK = b"data: {not json\n\n"
DONE = b"data: [DONE]\n\n"
_MARK = "\x00delta\x00"


@dataclass(frozen=True)
class Piece:
    """What is sent once ``at`` of the call's work is done (above 1: a runaway's tail)."""

    at: float
    data: bytes
    tokens: float = 0.0  # completion tokens it carries
    stall_s: float = 0.0  # real seconds of silence before it (a stall)
    first: bool = False  # it carries the first token


@dataclass(frozen=True)
class StreamPlan:
    pieces: list[Piece]
    finish_reason: str | None  # None: the connection closes after the last piece


class Chunks:
    """Encodes the events of one answer; content deltas from a template, since an
    answer has dozens of them."""

    def __init__(self, answer: dict[str, Any], include_usage: bool) -> None:
        self._base = {
            "id": answer["id"],
            "object": "chat.completion.chunk",
            "created": answer["created"],
            "model": answer["model"],
            "system_fingerprint": None,
        }
        self._include_usage = include_usage
        head, _, tail = self._event(self._choice({"content": _MARK}, None)).partition(
            json.dumps(_MARK).encode()
        )
        self._head, self._tail = head, tail

    @staticmethod
    def _choice(delta: dict[str, Any], finish: str | None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def _event(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {**self._base, "choices": choices}
        if self._include_usage:
            chunk["usage"] = usage
        return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"

    def role(self) -> bytes:
        return self._event(self._choice({"role": "assistant", "content": ""}, None))

    def delta(self, text: str) -> bytes:
        return self._head + json.dumps(text, ensure_ascii=False).encode() + self._tail

    def end(self, finish: str, usage: dict[str, Any]) -> bytes:
        """The finish chunk, the usage chunk if asked, and [DONE]."""
        last = self._event(self._choice({}, finish))
        if self._include_usage:
            last += self._event([], usage)
        return last + DONE


class _Planner:
    """Turns an answer's text and its fault into the pieces to send and when."""

    def __init__(self, content: str, chunks: Chunks, lead: float) -> None:
        self.content, self.chunks, self.lead = content, chunks, lead
        self.n = max(1, len(content))
        self.summary_end = round(summary_share(content) * len(content))

    def at(self, chars: int) -> float:
        return self.lead + (1 - self.lead) * chars / self.n

    def deltas(self, start: int, stop: int) -> Iterator[Piece]:
        """The text from ``start`` to ``stop`` in pieces of PIECE_CHARS; one ends just
        where the summary's string closes."""
        ends = set(range(start + PIECE_CHARS, stop, PIECE_CHARS)) | {stop}
        if start < self.summary_end < stop:
            ends.add(self.summary_end)
        prev = start
        for end in sorted(ends):
            if end > prev:
                text = self.content[prev:end]
                yield Piece(self.at(end), self.chunks.delta(text), len(text) / 4)
            prev = end

    def runaway(self, fault: str, cut: int, max_tokens: int | None) -> Iterator[Piece]:
        """The filler after ``cut`` at the text's own token rate, up to the token cap."""
        filler = FILLER[kind(fault)]
        per = estimate_tokens(filler)
        token_share = (1 - self.lead) / max(1, estimate_tokens(self.content))
        at, data = self.at(cut), self.chunks.delta(filler)
        for _ in range((runaway_cap(max_tokens) - estimate_tokens(self.content[:cut])) // per):
            at += per * token_share
            yield Piece(at, data, per)


def plan_stream(
    answer: dict[str, Any],
    *,
    fault: str,
    lead: float,
    strike: float,
    slow_s: float,
    include_usage: bool,
    max_tokens: int | None,
) -> StreamPlan:
    """The pieces of one streamed answer: ``lead`` is the share of the work before the
    first token, ``strike`` the share of the text after which a mid-stream fault strikes."""
    content = answer["choices"][0]["message"]["content"]
    finish, usage = answer["choices"][0]["finish_reason"], dict(answer["usage"])
    chunks = Chunks(answer, include_usage)
    plan = _Planner(content, chunks, lead)
    name = kind(fault)
    cut = 0 if name == "drop" else round(strike * len(content))
    first = Piece(lead, chunks.role(), stall_s=slow_s if name == "timeout" else 0.0, first=True)
    if name not in ("cut", "truncated", "drop", "stall", "badchunk", "runaway", "loop"):
        return StreamPlan([first, *plan.deltas(0, len(content)), _end(plan, finish, usage)], finish)
    pieces = [first, *plan.deltas(0, cut)]
    if name in ("cut", "truncated", "drop"):
        return StreamPlan(pieces, None)
    if name in FILLER:
        pieces += plan.runaway(fault, cut, max_tokens)
        tokens = runaway_cap(max_tokens)
        usage.update(completion_tokens=tokens, total_tokens=usage["prompt_tokens"] + tokens)
        return StreamPlan([*pieces, _end(plan, "length", usage, pieces[-1].at)], "length")
    if name == "stall":
        pieces.append(Piece(plan.at(cut), b"", stall_s=slow_s))
    else:
        pieces.append(Piece(plan.at(cut), BAD_CHUNK))
    pieces += plan.deltas(cut, len(content))
    return StreamPlan([*pieces, _end(plan, finish, usage)], finish)


def _end(plan: _Planner, finish: str, usage: dict[str, Any], at: float = 1.0) -> Piece:
    return Piece(max(at, 1.0), plan.chunks.end(finish, usage))


class StreamedAnswer(Response):
    """Sends a planned stream while the call holds its slot; its headers go out when its
    service begins. ``done`` runs once the call left, however it ended."""

    media_type = "text/event-stream"

    def __init__(
        self,
        service: Service,
        seen: SimRequest,
        work_s: float,
        plan: StreamPlan,
        headers: Callable[[], dict[str, str]],
        done: Callable[[], None],
    ) -> None:
        super().__init__(status_code=200, media_type=self.media_type)
        self._service, self._seen, self._work_s = service, seen, work_s
        self._plan, self._rate_headers, self._done = plan, headers, done
        self._sent = 0.0  # completion tokens sent so far

    async def _send(self, send: Send, pace: Pace) -> None:
        """The headers now, then each piece once its share of the work is done."""
        seen = self._seen
        head = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        head.update(self._rate_headers())
        raw = [(k.encode(), v.encode()) for k, v in head.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        seen.status = 200
        for piece in self._plan.pieces:
            if piece.stall_s:
                await pace.stall(piece.stall_s)
            await pace.until(piece.at)
            if piece.first:
                seen.first_token_s = time.monotonic() - seen.at
            if piece.data:
                await send({"type": "http.response.body", "body": piece.data, "more_body": True})
            self._sent += piece.tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = self._seen
        try:
            served = await self._service.serve(
                receive, seen, self._work_s, lambda pace: self._send(send, pace)
            )
            if not served and seen.status == 0:
                seen.status = 499  # it left while queued, before any header
            elif served and self._plan.finish_reason is None:
                seen.status = 0  # the connection closes: returning without the last message
            elif served:
                seen.finish_reason = self._plan.finish_reason
                # the last message once the slot is freed, so that the client's going
                # after it is not taken for a cancellation
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            seen.sent_tokens = round(self._sent)
            self._done()
