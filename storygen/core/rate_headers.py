"""A provider's own account of its rate limits, as OpenAI sends it with every answer.

``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``: the limit, what is left of it,
and when it is whole again ("1s", "6m0s", "20ms"). When a server sends them, pacing by
them beats learning the window from 429s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_s(text: str) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s"); None if unreadable."""
    text = text.strip()
    try:
        return float(text)  # some servers send plain seconds
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RateHeaders:
    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateHeaders | None:
        """From a response's headers (any case); None when it sent none of them."""
        low = {k.lower(): v for k, v in headers.items()}

        def reset(kind: str) -> float | None:
            value = low.get(f"x-ratelimit-reset-{kind}")
            return duration_s(value) if value is not None else None

        found = cls(
            _int(low.get("x-ratelimit-limit-requests")),
            _int(low.get("x-ratelimit-remaining-requests")),
            reset("requests"),
            _int(low.get("x-ratelimit-limit-tokens")),
            _int(low.get("x-ratelimit-remaining-tokens")),
            reset("tokens"),
        )
        return None if found == cls() else found
