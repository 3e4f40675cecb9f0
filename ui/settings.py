"""Where the app reads what its deployer set: st.secrets first, then the environment."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st


def secret_value(name: str) -> Any:
    """A value of .streamlit/secrets.toml (a table stays a mapping), or None."""
    try:
        return st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml: the usual case
        return None


def secret(name: str) -> str | None:
    value = secret_value(name)
    return str(value) if value not in (None, "") else None


def setting(name: str) -> str | None:
    """``name`` from st.secrets, else the environment; None when set in neither."""
    return secret(name) or os.environ.get(name) or None
