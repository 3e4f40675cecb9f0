"""What a session remembers (the backend chosen in the sidebar, the visitor's workspace) and
the background jobs its pages watch.

A job outlives the session that started it: a reload is a new session. So every job is also
kept for the app process (``_watched``, by page and id, with the workspace it belongs to), and
the page address names the one a page watches (``?run=`` on Generate, ``?comparison=`` on
Compare): a reload, or that address in another tab, finds it again, progress and Cancel
included. A visitor never finds a job of another workspace, whatever the address says.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from storygen import InvalidRequestError, RunStore, ScriptRequest
from storygen.jobs.bulk import BulkJob
from storygen.jobs.child import ChildJob
from storygen.jobs.worker import Job
from ui.workspace import Workspace

if TYPE_CHECKING:
    from ui.sidebar import BackendChoice

RUNS_DIR_ENV = "STORYGEN_RUNS_DIR"
POLL_S = 0.5  # how often a running job's page refreshes
JobSlot = Literal["generate", "compare"]
PARAMS: dict[JobSlot, str] = {"generate": "run", "compare": "comparison"}
KEEP_DONE = 200  # finished jobs kept for reloads; running ones are always kept


@dataclass(frozen=True)
class Watched:
    job: Job
    workspace: str | None


@st.cache_resource
def _watched() -> dict[str, Watched]:
    """Every job of this app process by "<page>:<id>": what a reloaded page attaches to."""
    return {}


@st.cache_resource
def bulk_jobs() -> dict[str, BulkJob]:
    """Bulk jobs of this app process by folder: a reloaded Bulk page finds its running job
    here (a folder lies in one workspace, which only its visitor can open)."""
    return {}


def live_jobs() -> list[ChildJob]:
    """Jobs writing now in this app process, every visitor's."""
    jobs: list[ChildJob] = [w.job for w in list(_watched().values())]
    return [job for job in [*jobs, *list(bulk_jobs().values())] if not job.done]


def room(near_button: DeltaGenerator) -> bool:
    """Whether a shared dashboard may start one more job: at most ``max_running`` at once,
    all visitors together; else the button says so (nothing is lost: try again later)."""
    caps = workspace().caps
    if caps is None or (busy := len(live_jobs())) < caps.max_running:
        return True
    runs = "1 run is" if busy == 1 else f"{busy} runs are"
    near_button.error(
        f"This shared dashboard is busy: {runs} in progress, at most {caps.max_running} at "
        "once. Try again when one has finished; nothing you typed is lost."
    )
    return False


def over_caps(request: ScriptRequest) -> InvalidRequestError | None:
    """What a shared deployment refuses in ``request``, naming the field to change; None
    for a local user, or a request within the caps."""
    caps = workspace().caps
    if caps is None:
        return None
    try:
        caps.check(request)
    except InvalidRequestError as exc:
        return exc
    return None


def workspace() -> Workspace:
    found = st.session_state.get("workspace")
    return found if isinstance(found, Workspace) else Workspace()


def root() -> RunStore:
    """The whole run store; STORYGEN_RUNS_DIR moves it (tests point it at a temporary folder)."""
    return RunStore(os.environ.get(RUNS_DIR_ENV, "runs"))


def store() -> RunStore:
    """The runs this visitor sees and touches: the whole store, or their workspace's."""
    ws = workspace().id
    return root() if ws is None else root().workspace(ws)


def _job_id(slot: JobSlot, job: Job) -> str:
    lane = job.lanes[0]
    if slot == "generate" and lane.run_dir is not None:
        return lane.run_dir.run_id  # the run itself: the address still shows it after a restart
    return uuid.uuid4().hex[:16]


def _prune(watched: dict[str, Watched]) -> None:
    done = [key for key, w in list(watched.items()) if w.job.done]
    for key in done[: max(0, len(done) - KEEP_DONE)]:
        watched.pop(key, None)


def _address(slot: JobSlot, job_id: str) -> None:
    if st.query_params.get(PARAMS[slot]) != job_id:
        st.query_params[PARAMS[slot]] = job_id


def set_job(slot: JobSlot, job: Job) -> None:
    """Watch ``job`` on page ``slot``: this session, the address, and a reload."""
    job_id = _job_id(slot, job)
    watched = _watched()
    _prune(watched)
    watched[f"{slot}:{job_id}"] = Watched(job, workspace().id)
    _keep(slot, job_id, job)


def watched_id(slot: JobSlot) -> str | None:
    """The id the page address names for ``slot`` (a run id on Generate)."""
    return st.query_params.get(PARAMS[slot]) or None


def _keep(slot: JobSlot, job_id: str, job: Job) -> None:
    st.session_state[f"job_{slot}"] = job
    st.session_state[f"job_{slot}_id"] = job_id
    _address(slot, job_id)


def job(slot: JobSlot) -> Job | None:
    """The job page ``slot`` watches: the address's (a reload, another tab) when it names
    one of this workspace's, else this session's."""
    kept = st.session_state.get(f"job_{slot}")
    kept_id = st.session_state.get(f"job_{slot}_id")
    wanted = watched_id(slot)
    if wanted and (not isinstance(kept, Job) or kept_id != wanted):
        found = _watched().get(f"{slot}:{wanted}")
        if found is not None and found.workspace == workspace().id:
            kept, kept_id = found.job, wanted
    if not isinstance(kept, Job) or not isinstance(kept_id, str):
        return None
    _keep(slot, kept_id, kept)
    return kept


def backend() -> BackendChoice:
    """The sidebar's choice for this script run (app.py renders the sidebar first)."""
    return st.session_state["backend_choice"]  # type: ignore[no-any-return]
