"""Live views of running jobs: fragments that poll a Job and redraw only themselves.

A fragment with run_every keeps the rest of the page (and its widgets) still while it
refreshes; when the job is done it reruns the whole page once, which then draws the results
and stops polling (the fragment is no longer called).
"""

from __future__ import annotations

import streamlit as st

from storygen.analysis import charts, frames, tables
from storygen.jobs.lane import Lane
from storygen.jobs.worker import Job
from ui.actions import action, said
from ui.state import POLL_S

LIVE_COLUMNS = ["scene", "title", "location", "narration"]


def _eta(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def lane_progress(lane: Lane, *, key: str) -> None:
    """Progress bar, counters, the timeline so far and scenes as they finish."""
    snap = lane.snapshot()
    total = snap.total or lane.request.scene_count
    st.progress(snap.done / total, text=f"{lane.label}: {snap.done}/{total} scenes written")
    cols = st.columns(5)
    cols[0].metric("Scenes done", f"{snap.done}/{total}")
    cols[1].metric("Current batch", snap.current_group or "-")
    cols[2].metric("In flight", snap.in_flight)
    cols[3].metric("Elapsed", f"{snap.elapsed_s:.1f} s")
    cols[4].metric("ETA", _eta(snap.eta_s))
    if snap.retries:
        st.caption(f"{snap.retries} transient errors retried so far.")
    timings, scenes = lane.timings(snap), lane.scenes(snap)
    frame = frames.scene_frame(timings, lane.label, lane.request.strategy)
    st.plotly_chart(
        charts.timeline_figure(frame, title="Timeline so far"), key=f"{key}_live_timeline"
    )
    st.caption("Scenes as they finish, the latest on top")
    st.dataframe(
        tables.latest_first(scenes, timings)[LIVE_COLUMNS],
        hide_index=True,
        height=280,
        key=f"{key}_live_scenes",
    )


def _cancel(job: Job, key: str) -> None:
    with action(key):
        job.cancel()


def cancel_button(job: Job, *, key: str) -> None:
    """Stops a running job: every run keeps its finished scenes on disk, "interrupted", and
    resumes later. Outside the live fragment, so that the click reruns the whole page."""
    st.button(
        "Cancelling…" if job.cancel_requested else "Cancel",
        key=key,
        icon=":material/stop_circle:",
        on_click=_cancel,
        args=(job, key),
        disabled=job.cancel_requested,
        help="Stop now: finished scenes are kept and the run can be resumed.",
    )
    said(key)


@st.fragment(run_every=POLL_S)
def live_run(job: Job, key: str) -> None:
    if job.done:
        st.rerun()
    lane_progress(job.lanes[0], key=key)


def lane_row(lane: Lane) -> None:
    """One configuration's lane: its name, its own progress, and where it stands."""
    snap = lane.snapshot()
    total = snap.total or lane.request.scene_count
    done = len(lane.scenes()) if lane.done else snap.done
    hedges = sum(t.hedged for t in lane.timings(snap))
    backups = f" · {hedges} hedged" if hedges else ""  # a hung call saved by its backup
    name, bar, state = st.columns([1.3, 5, 2.2], vertical_alignment="center")
    name.markdown(f"**{lane.label}**")
    bar.progress(min(done / total, 1.0))
    if lane.status == "finished" and lane.result is not None:
        wall = lane.result.meta.wall_time_s
        state.markdown(f":green[:material/check_circle:] {wall:.2f} s{backups}")
    elif lane.status == "failed":
        state.markdown(f":red[:material/error:] failed at {done}/{total}")
    elif lane.status == "cancelled":
        state.markdown(f":orange[:material/cancel:] cancelled at {done}/{total}")
    elif lane.status == "capped":
        state.markdown(f":orange[:material/savings:] spend cap reached at {done}/{total}")
    else:
        group = f" · batch {snap.current_group}" if snap.current_group else ""
        state.markdown(f"{done}/{total}{group}{backups} · ETA {_eta(snap.eta_s)}")


def lanes(job: Job) -> None:
    for lane in job.lanes:
        lane_row(lane)
    for lane in job.lanes:
        if lane.error:
            st.error(f"{lane.label}: {lane.error}")
        elif lane.note:
            st.warning(f"{lane.label}: {lane.note}")


@st.fragment(run_every=POLL_S)
def live_lanes(job: Job) -> None:
    if job.done:
        st.rerun()
    lanes(job)
