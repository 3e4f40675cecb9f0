"""The x-ratelimit-* headers serve-sim sends, read off the very window its 429s come from.

OpenAI sends them with every answer; a client that paces by them need not learn the
limit from 429s. ``reset`` is when the oldest request leaves the sliding window, so one
more is let in: with nothing remaining it is the 429's Retry-After. Real seconds, in
OpenAI's duration format ("20ms", "1.5s", "6m0s"), which core.rate_headers reads.
"""

from __future__ import annotations

import math

from storygen.sim.config import SimServerConfig
from storygen.sim.state import SimServerState


def go_duration(seconds: float) -> str:
    """OpenAI's (Go's) duration text, rounded up to the millisecond so that waiting it
    out is never too short: 0.0204 -> "21ms", 1.5 -> "1.5s", 360 -> "6m0s"."""
    ms = math.ceil(max(0.0, seconds) * 1000 - 1e-9)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def rate_headers(config: SimServerConfig, state: SimServerState) -> dict[str, str]:
    """The headers for an answer sent now; none without an rpm or with them turned off."""
    if config.rpm is None or not config.rate_headers:
        return {}
    remaining, reset_s = state.rate_window(config.rpm, 60.0 * config.time_scale)
    return {
        "x-ratelimit-limit-requests": str(config.rpm),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": go_duration(reset_s),
    }
