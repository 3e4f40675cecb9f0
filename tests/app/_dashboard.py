"""Helpers for the dashboard's AppTest tests: a fresh app on a temporary run store, polling
with a deadline (never a fixed sleep), and "what is shown right after this field"."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FAST = 0.002  # a simulated call then takes ~16 ms


def visit(page: str = "", *, time_scale: float = FAST, **params: str) -> AppTest:
    """A new browser session (a first visit, or a reload) with ``params`` in the page address,
    at a fast simulated time scale, on ``page``."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    at.number_input(key="sim_time_scale").set_value(time_scale).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def open_app(
    monkeypatch: pytest.MonkeyPatch, runs: Path, *, time_scale: float = FAST, page: str = ""
) -> AppTest:
    """The app on a temporary run store, at a fast simulated time scale, on ``page``."""
    monkeypatch.setenv("STORYGEN_RUNS_DIR", str(runs))
    return visit(page, time_scale=time_scale)


def shared_mode(monkeypatch: pytest.MonkeyPatch, runs: Path) -> Path:
    """A shared deployment on the simulated LLM (no key anywhere), its run store ``runs``,
    every cap at its default."""
    for name in (
        "OPENAI_API_KEY",
        "STORYGEN_API_KEYS",
        "OPENAI_BASE_URL",
        "STORYGEN_MODEL",
        "STORYGEN_MAX_COST",
        "STORYGEN_MAX_DURATION_S",
        "STORYGEN_MAX_IN_FLIGHT",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.setenv("STORYGEN_SHARED", "1")
    monkeypatch.setenv("STORYGEN_RUNS_DIR", str(runs))
    return runs


def poll(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 30.0) -> AppTest:
    """Rerun the app (as the page's fragment would) until ``done`` holds or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")


def _visible(nodes: Iterator[Any]) -> Iterator[Any]:
    for node in nodes:
        kind = getattr(node, "type", "")
        if kind in ("empty", "") or hasattr(node, "children"):
            continue
        yield node


def shown_after(block: Any, label: str) -> Any:
    """The first element drawn after the widget labelled ``label`` (its message slot)."""
    nodes = list(_visible(iter(block)))
    for i, node in enumerate(nodes):
        if getattr(node, "label", None) == label:
            if i + 1 < len(nodes):
                return nodes[i + 1]
            return None
    raise AssertionError(f"no widget labelled {label!r}")


def texts(at: AppTest) -> list[str]:
    """Every piece of text on screen (main and sidebar), for "never shown" checks."""
    out: list[str] = []
    for node in _visible(iter(at._tree)):
        # A text field's value is what was typed (a password field's is masked on screen).
        attrs = ("label",) if node.type == "text_input" else ("value", "label")
        for attr in attrs:
            value = getattr(node, attr, None)
            if isinstance(value, str):
                out.append(value)
        proto = getattr(node, "proto", None)
        for attr in ("body", "label", "help", "placeholder", "default"):
            value = getattr(proto, attr, None)
            if isinstance(value, str):
                out.append(value)
    return out
