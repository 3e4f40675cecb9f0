"""API keys out of everything storygen shows or saves: one policy, one place."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Settings whose names say they hold a secret are never written to a run directory.
_SECRET_NAME = re.compile(r"(api_?keys?|secret|password|authorization|bearer)$", re.IGNORECASE)


def mask(key: str) -> str:
    """Enough of a key to tell which one it was, never enough to use it."""
    return f"{key[:3]}…{key[-4:]}" if len(key) > 10 else "…"


def masked(text: str, keys: Iterable[str]) -> str:
    """``text`` with every key in it masked: a provider may echo the key back in its error."""
    for key in keys:
        if key:
            text = text.replace(key, mask(key))
    return text


def without_secrets(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings whose names do not say they hold a secret."""
    return {k: v for k, v in settings.items() if not _SECRET_NAME.search(k)}
