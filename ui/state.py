"""What a session remembers: handles to background jobs and the backend chosen in the sidebar."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

import streamlit as st

from storygen import RunStore
from storygen.jobs.worker import Job

if TYPE_CHECKING:
    from ui.sidebar import BackendChoice

RUNS_DIR_ENV = "STORYGEN_RUNS_DIR"
POLL_S = 0.5  # how often a running job's page refreshes
JobSlot = Literal["generate", "compare"]


def store() -> RunStore:
    """The run store; STORYGEN_RUNS_DIR moves it (tests point it at a temporary folder)."""
    return RunStore(os.environ.get(RUNS_DIR_ENV, "runs"))


def job(slot: JobSlot) -> Job | None:
    found = st.session_state.get(f"job_{slot}")
    return found if isinstance(found, Job) else None


def set_job(slot: JobSlot, job: Job) -> None:
    st.session_state[f"job_{slot}"] = job


def running(slot: JobSlot) -> bool:
    current = job(slot)
    return current is not None and not current.done


def backend() -> BackendChoice:
    """The sidebar's choice for this script run (app.py renders the sidebar first)."""
    return st.session_state["backend_choice"]  # type: ignore[no-any-return]
