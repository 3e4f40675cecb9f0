"""What serve-sim saw: every chat request, the per-key tallies and the Batch API's counters.

Tests and benchmarks read it in-process (``RunningServer.state``); anyone else reads
``GET /sim/stats``, where keys are masked.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from storygen.core.secrets import mask
from storygen.sim.config import SimServerConfig


@dataclass
class SimRequest:
    """One chat request as the server saw it: who sent what, when, and the answer."""

    key: str
    at: float  # time.monotonic() on arrival
    attempt: int  # the client's X-Storygen-Attempt header
    hedge: int = 0  # the client's X-Storygen-Hedge header: 1 for a backup request
    call: str | None = None  # "outline" or "scene3", once the prompt is read
    mode: str = "none"  # the response_format asked for: json_schema, json_object or none
    fault: str = "ok"  # the fault played, scripted or drawn
    status: int = 0  # the HTTP status answered (0: the connection was dropped)
    max_tokens: int | None = None  # max_tokens or max_completion_tokens, as asked
    prompt_tokens: int = 0  # every message, counted as serve-sim counts usage
    finish_reason: str | None = None  # of a 200 answer
    hung: bool = False  # drew the hang fault
    queued_s: float = 0.0  # waited for a free slot (only with a capacity)
    service_s: float = 0.0  # the drawn time to serve the answer, holding a slot
    cancelled: bool = False  # the client closed the connection before the answer
    streamed: bool = False  # answered with server-sent events
    first_token_s: float | None = None  # after arrival, when the first content was sent
    sent_tokens: int = 0  # completion tokens sent (streamed: before the end or the client left)
    work_s: float = 0.0  # the call's solo work: its drawn latency (scaled), served alone
    served_s: float = 0.0  # wall seconds it actually held its slot (shared compute: longer)


@dataclass
class SimServerState:
    """What the server saw; read by tests and the benchmark."""

    requests_by_key: Counter[str] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    rejected_429: int = 0
    window: deque[float] = field(default_factory=deque)
    requests: list[SimRequest] = field(default_factory=list)
    in_flight_by_key: Counter[str] = field(default_factory=Counter)
    max_in_flight_by_key: Counter[str] = field(default_factory=Counter)
    in_service: int = 0  # being served, not queued for a slot
    max_in_service: int = 0
    cancelled: int = 0  # requests whose client closed the connection before the answer
    hedged: int = 0  # backup requests (X-Storygen-Hedge)
    # the Batch API: every HTTP request to /v1/files* and /v1/batches* (refused ones too),
    # uploads, batches created, their lines, and GETs of one batch (polls)
    batch_http_requests: int = 0
    files_uploaded: int = 0
    batches_created: int = 0
    batch_lines: int = 0
    batch_polls: int = 0

    def attempts(self, call: str) -> list[SimRequest]:
        """Every request for one call ("scene3"), in arrival order."""
        return [r for r in self.requests if r.call == call]

    def arrived(self, seen: SimRequest) -> None:
        """Count a chat request before anything can refuse it, so every one is attributed."""
        if seen.hedge:
            self.hedged += 1
        self.requests.append(seen)
        self.requests_by_key[seen.key] += 1
        self.in_flight_by_key[seen.key] += 1
        self.max_in_flight_by_key[seen.key] = max(
            self.max_in_flight_by_key[seen.key], self.in_flight_by_key[seen.key]
        )

    def left(self, seen: SimRequest) -> None:
        self.in_flight_by_key[seen.key] -= 1

    def over_rpm(self, rpm: int | None, window_s: float) -> float | None:
        """Seconds until a slot frees in the sliding window, or None if under the limit
        (the request then takes a place in the window)."""
        if rpm is None:
            return None
        now = time.monotonic()
        while self.window and self.window[0] <= now - window_s:
            self.window.popleft()
        if len(self.window) >= rpm:
            return self.window[0] + window_s - now
        self.window.append(now)
        return None

    def rate_window(self, rpm: int, window_s: float) -> tuple[int, float]:
        """What is left of the sliding window the 429s come from, and the seconds until
        its oldest request leaves it (so one more is let in; 0 when it is empty)."""
        now = time.monotonic()
        while self.window and self.window[0] <= now - window_s:
            self.window.popleft()
        reset = self.window[0] + window_s - now if self.window else 0.0
        return max(0, rpm - len(self.window)), max(0.0, reset)

    def stats(self, config: SimServerConfig) -> dict[str, Any]:
        """What the server saw, with keys masked: for benchmarks and curious users."""
        return {
            "requests": sum(self.requests_by_key.values()),
            "requests_by_key": {mask(k): n for k, n in self.requests_by_key.items()},
            "rejected_429": self.rejected_429,
            "accepted_at": self.accepted_at,
            "max_in_flight_by_key": {mask(k): n for k, n in self.max_in_flight_by_key.items()},
            "max_in_service": self.max_in_service,
            "cancelled": self.cancelled,
            "hedged": self.hedged,
            "hung": sum(r.hung for r in self.requests),
            "queued": sum(r.queued_s > 0 for r in self.requests),
            "capacity": config.capacity,
            "hang_rate": config.hang_rate,
            "hang_factor": config.hang_factor,
            "modes": Counter(r.mode for r in self.requests),
            "streamed": sum(r.streamed for r in self.requests),
            "compute_bound": config.compute_bound,
            "compute_gain": config.compute_gain,
            "streaming": config.streaming,
            "runaway_rate": config.runaway_rate,
            "batch_http_requests": self.batch_http_requests,
            "files_uploaded": self.files_uploaded,
            "batches_created": self.batches_created,
            "batch_lines": self.batch_lines,
            "batch_polls": self.batch_polls,
        }
