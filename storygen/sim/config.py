"""What serve-sim plays: latency, faults, limits, the model's quirks and the Batch API's pace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from storygen.backends.simulated import HANG_FACTOR, SIM_MODEL
from storygen.core import bounds

# What response_format the server pretends to support. "refuse-500" plays
# llama-cpp-python's server: json_schema fails its request validation, answered as a 500;
# json_object works.
Structured = Literal["json_schema", "json_object", "none", "refuse-500"]
STRUCTURED_MODES: tuple[Structured, ...] = ("json_schema", "json_object", "none", "refuse-500")
# A compute-bound server's most speed, in calls served alone: 1 = no faster for more calls.


@dataclass
class SimServerConfig:
    time_scale: float = 1.0
    median_s: float = 8.0
    sigma: float = 0.35
    rpm: int | None = None
    error_rate: float = 0.0  # 5xx
    malformed_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 30.0  # real seconds: long enough for a client timeout
    hang_rate: float = 0.0  # share of calls that take hang_factor x the median (scaled)
    hang_factor: float = HANG_FACTOR
    capacity: int | None = None  # requests served at once; the rest queue (None: no limit)
    # the slots share one fixed compute (llama.cpp on a laptop CPU): with n calls in
    # service the server runs min(n, compute_gain) times one call's solo speed, shared
    compute_bound: bool = False
    compute_gain: float = 1.5
    # answer "stream": true with server-sent events; False: refuse it with a 400 naming
    # the stream parameter, as a server that cannot stream does
    streaming: bool = True
    # share of streamed calls that run away (whitespace until max_tokens), drawn
    runaway_rate: float = 0.0
    # x-ratelimit-* headers on every chat answer while there is an rpm
    rate_headers: bool = True
    api_keys: frozenset[str] | None = None  # None: any non-empty key
    exhausted_keys: frozenset[str] = frozenset()
    models: tuple[str, ...] = (SIM_MODEL, "gpt-4o-mini")
    structured: Structured = "json_schema"
    # play a reasoning model: refuse max_tokens (wants max_completion_tokens) and temperature
    reasoning_model: bool = False
    # the model's context window in tokens (prompt + max_tokens): longer requests get
    # OpenAI's 400 context_length_exceeded; None: no limit
    context_tokens: int | None = None
    # the largest max_tokens the model allows: more gets OpenAI's 400 "max_tokens is too
    # large ... supports at most N completion tokens"; None: no limit
    max_tokens_limit: int | None = None
    # scripted faults for tests: call ("outline", "scene3") -> one entry per attempt:
    # "ok", "timeout", "malformed" (the model's text is not the JSON asked for),
    # "truncated" (a 200 whose JSON body is cut short), "html" (a 200 with a web page),
    # "drop" (the connection closes mid-answer), "newlines" (valid JSON but for raw
    # newlines and tabs inside its strings, as small models and grammars write them),
    # "length:<N>" (cut off with finish_reason "length" unless max_tokens >= N),
    # an HTTP status such as "500", "400" or "409", or "429:<retry-after s>";
    # and while an answer streams, after a share of its text ("cut:0.6"; bare: drawn):
    # "cut" (the connection closes: no finish, no [DONE]), "stall" (nothing for slow_s,
    # then the rest), "badchunk" (one `data: {not json` line), "runaway" (whitespace
    # until max_tokens, finish_reason "length"), "loop" (a phrase repeated likewise).
    # A plain answer plays cut as drop, stall as timeout, badchunk as ok, and runaway
    # and loop as one long answer cut off at max_tokens; a stream plays truncated as cut,
    # drop as a cut before any text, and timeout as slow_s of silence before the first token.
    script: dict[str, list[str]] = field(default_factory=dict)
    # The Batch API (storygen/sim/batch_api_routes.py). A batch is done batch_delay_s real
    # seconds after it was created: not scaled by time_scale, since a real batch's delay
    # has nothing to do with a call's latency. Of its lines, a share is answered with a 500
    # (batch_fail_rate) and a share is never run (batch_expire_rate: the window ends, the
    # batch expires and they are reported as batch_expired).
    batch_delay_s: float = 1.0
    batch_fail_rate: float = 0.0
    batch_expire_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.structured not in STRUCTURED_MODES:
            raise ValueError(
                f"structured must be one of {', '.join(STRUCTURED_MODES)} (got {self.structured!r})"
            )
        if self.hang_rate not in bounds.SHARE:
            raise ValueError(
                f"hang_rate must be between {bounds.SHARE.low} and {bounds.SHARE.high} "
                f"(got {self.hang_rate})"
            )
        if self.hang_factor not in bounds.HANG_FACTOR:
            raise ValueError(
                f"hang_factor must be between {bounds.HANG_FACTOR.low} and "
                f"{bounds.HANG_FACTOR.high} "
                f"(got {self.hang_factor})"
            )
        if self.capacity is not None and self.capacity not in bounds.CAPACITY:
            raise ValueError(
                f"capacity must be between {bounds.CAPACITY.low} and {bounds.CAPACITY.high} "
                f"(got {self.capacity})"
            )
        if self.batch_delay_s not in bounds.BATCH_DELAY_S:
            raise ValueError(
                f"batch_delay_s must be between {bounds.BATCH_DELAY_S.low} and "
                f"{bounds.BATCH_DELAY_S.high}, the 24 h window "
                f"(got {self.batch_delay_s})"
            )
        if self.compute_gain not in bounds.COMPUTE_GAIN:
            raise ValueError(
                f"compute_gain must be between {bounds.COMPUTE_GAIN.low} and "
                f"{bounds.COMPUTE_GAIN.high} (got {self.compute_gain})"
            )
        for name in ("batch_fail_rate", "batch_expire_rate", "runaway_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1 (got {getattr(self, name)})")
