"""Runs: the run store's history; open, resume, export or delete a run, compare several."""

from __future__ import annotations

import streamlit as st

from storygen import RunDir
from storygen.analysis import frames, tables
from storygen.core.labels import config_label
from storygen.jobs import worker
from storygen.store import RunInfo
from storygen.store.run_store import WORKSPACES
from ui import results, state
from ui.actions import action, said
from ui.shell import ensure_shell

ensure_shell()

RESUMABLE = ("failed", "interrupted")


def _forget(run_id: str) -> None:
    st.session_state["runs_open"] = None
    st.session_state["runs_confirm"] = False
    st.session_state["runs_compare"] = [
        r for r in st.session_state.get("runs_compare", []) if r != run_id
    ]


st.title("Runs")
store = state.store()
infos = store.list()
if state.workspace().shared:
    st.caption("Your workspace's runs, newest first: nobody else's are listed here.")
else:
    st.caption(f"Every run is saved in `{store.root}`: newest first.")
    if (shared := store.root / WORKSPACES).is_dir():  # a shared dashboard's, on this store
        folders = sum(1 for p in shared.iterdir() if p.is_dir())
        some = f"{folders} workspaces of a shared dashboard are"
        if folders == 1:
            some = "1 workspace of a shared dashboard is"
        st.caption(
            f"{some} in `{shared}` and not listed "
            f"here: `STORYGEN_RUNS_DIR={shared}/<id> streamlit run app.py` opens one."
        )
gone = st.session_state.get("runs_open")
if gone is not None and gone not in {i.run_id for i in infos}:  # deleted in another tab
    st.error(f"run {gone} no longer exists: it was deleted", icon=":material/error:")
    _forget(gone)
if not infos:
    st.info("No runs yet: write a script on Generate or run a comparison on Compare.")
    st.stop()

by_id: dict[str, RunInfo] = {i.run_id: i for i in infos}
st.dataframe(tables.runs_frame(infos), hide_index=True, key="runs_table")


def _describe(run_id: str) -> str:
    i = by_id[run_id]
    idea = i.idea if len(i.idea) <= 40 else i.idea[:39] + "…"
    label = config_label(i.strategy, i.concurrency)
    return f"{run_id[:15]} · {label} · {idea} · {i.status}"


def _delete(run_id: str) -> None:
    """A callback, so that the widgets naming the run can be cleared before they are drawn.
    A run being written is refused (its writer holds the lock): the line says by whom."""
    with action("runs_delete"):
        store.delete(run_id)
        _forget(run_id)


st.subheader("Open a run")
opened = st.selectbox(
    "Run", list(by_id), index=None, format_func=_describe, key="runs_open", placeholder="Pick a run"
)
if opened is not None:
    info = by_id[opened]
    run_dir = RunDir(info.path)  # just listed: opened again by Resume, which checks
    if info.error:
        st.error(info.error)
    actions = st.columns([1, 1, 3], vertical_alignment="center")
    resume = actions[0].button(
        "Resume", type="primary", disabled=info.status not in RESUMABLE, key="runs_resume"
    )
    confirm = actions[2].checkbox("Yes, delete this run and its files", key="runs_confirm")
    actions[1].button(
        "Delete", disabled=not confirm, key="runs_delete", on_click=_delete, args=(opened,)
    )
    action_slot = st.empty()
    said("runs_delete", action_slot)
    if resume:
        with action(action_slot):
            run_dir.ensure_exists()  # deleted from another tab since this page was drawn
            choice = state.backend()
            if choice.may_resume(run_dir, action_slot) and state.room(action_slot):
                job = worker.start_resume(run_dir, choice.config, max_cost=choice.max_cost)
                state.set_job("generate", job)
                st.switch_page("pages/generate.py")
    with action(st.empty()):  # its files gone while drawn: one line, not an error page
        results.run_view(run_dir, key="runs")

st.subheader("Compare runs")
finished = [i.run_id for i in infos if i.status == "finished"]
picked = st.multiselect(
    "Finished runs to compare on the same charts",
    finished,
    format_func=_describe,
    key="runs_compare",
)
if picked:
    with action(st.empty()):  # a run deleted meanwhile: one line
        dirs = [RunDir(by_id[r].path) for r in picked]
        scripts = [s for d in dirs if (s := d.load_script()) is not None]
        settings = [d.backend_settings() for d in dirs]
        measured = frames.measured_baseline(scripts, settings) is not None
        results.comparison_view(
            scripts, "measured" if measured else "estimated", scripts[0].request, key="runs_cmp"
        )
