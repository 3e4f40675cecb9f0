"""What a button does never ends on Streamlit's error page.

A mistake the library names (a StoryGenError: bad input, a run locked by its writer, a
backend that refused) and a run deleted meanwhile (its files gone: FileNotFoundError) are one
line next to the button. Anything else is a bug: one line too, and its traceback in the log.

``action(slot)`` wraps a handler that runs in the page; a callback (``on_click``) runs before
the page is drawn, so ``action(key)`` keeps its line for ``said(key)`` to show next to its
button.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from storygen import StoryGenError

log = logging.getLogger("storygen")
_SAID = "_action_said_"


def explain(exc: Exception) -> str:
    """One line for the person who pressed the button."""
    if isinstance(exc, StoryGenError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename:
        folder = Path(str(exc.filename)).parent
        if not folder.exists():  # its run was deleted (from another tab, page or process)
            return f"run {folder.name} no longer exists: it was deleted"
        return f"{exc.filename} is missing"
    return f"Something went wrong ({type(exc).__name__}: {exc}); the details are in the log."


@contextlib.contextmanager
def action(where: DeltaGenerator | str) -> Iterator[None]:
    """Run a button's work; what it raises becomes one line at ``where`` (a slot next to the
    button, or the key of a callback's button). st.rerun and st.stop pass through: they are
    BaseExceptions."""
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, StoryGenError | FileNotFoundError):
            log.exception("a page action failed")
        line = explain(exc)
        if isinstance(where, str):
            st.session_state[_SAID + where] = line
        else:
            where.error(line, icon=":material/error:")


def said(key: str, where: DeltaGenerator | None = None) -> None:
    """The line the callback of button ``key`` left, shown once at ``where`` (or here)."""
    line = st.session_state.pop(_SAID + key, None)
    if line and where is not None:
        where.error(line, icon=":material/error:")
    elif line:
        st.error(line, icon=":material/error:")
