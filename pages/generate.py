"""Generate: one script, live while it is written; a failure or a Cancel keeps its scenes
and offers Resume."""

from __future__ import annotations

import streamlit as st

from storygen import InvalidRequestError, RunDir, ScriptRequest
from storygen.jobs import worker
from ui import live, results, state
from ui.actions import action
from ui.forms import prefill, request_form
from ui.shell import ensure_shell


def _resume_button(run_dir: RunDir) -> None:
    st.caption(
        f"Finished scenes are on disk in `{run_dir.path}`; Resume writes only the missing ones."
    )
    resume = st.button("Resume", type="primary", key="gen_resume")
    resume_slot = st.empty()
    if resume:
        with action(resume_slot):
            run_dir.ensure_exists()  # deleted on the Runs page (any tab) since it failed
            choice = state.backend()
            if choice.may_resume(run_dir, resume_slot) and state.room(resume_slot):
                job = worker.start_resume(run_dir, choice.config, max_cost=choice.max_cost)
                state.set_job("generate", job)
                st.rerun()


def _saved(run_id: str, run_dir: RunDir | None) -> None:
    """The run the address names, from its files: this app is not writing it (a reload after
    a restart, or an address from elsewhere). Only ever one of this visitor's runs."""
    if run_dir is None:
        st.info(f"Run {run_id[:64]} is not among your runs: it was deleted, or is someone else's.")
        return
    with action(st.empty()):  # its files gone while drawn: one line, not an error page
        info, holder = run_dir.info(), run_dir.in_use()
        if holder is not None:
            st.caption(f"This run is being written by {holder}: reload when it is done.")
        elif info.status != "finished":
            stopped = "it stopped before it finished (the app restarted)"
            said = info.error if info.status != "running" else stopped
            st.warning(said or info.status, icon=":material/cancel:")
            _resume_button(run_dir)
        results.run_view(run_dir, key="gen")


ensure_shell()

st.title("Generate a script")
st.caption(
    "One scene per 8-second clip, written in parallel by the strategy you choose. "
    "Every finished scene is saved at once, so a failed or cancelled run can be resumed."
)

job = state.job("generate")  # the address's after a reload: its request fills the form
watched = state.watched_id("generate")
on_disk = state.store().own(watched) if job is None and watched else None
if job is not None:
    prefill("gen", job.lanes[0].request, watched or "")
elif watched and on_disk is not None:
    with action(st.empty()):  # deleted meanwhile: said below
        prefill("gen", on_disk.request(), watched)
form = request_form("gen")
with st.expander("Simulate a failure (to try Resume)"):
    fail_scene = st.number_input(
        "Scene that fails for good (0 = none)",
        min_value=0,
        value=0,
        step=1,
        key="gen_fail_scene",
        help="Simulated backend only; not saved with the run, so Resume then succeeds.",
    )

try:  # the estimate before Run, on a priced model; a bad field is said on Run
    planned = state.backend().estimate_line(ScriptRequest.build(**form.values))
except InvalidRequestError:
    planned = None
if planned:
    st.caption(planned)

clicked = st.button("Write the script", type="primary", disabled=job is not None and not job.done)
near_button = st.empty()
if clicked:
    request = form.build()
    choice = state.backend()
    if request is not None and (over := state.over_caps(request)) is not None:
        form.show(over)  # next to the duration or the batch size
        request = None
    allowed = (
        request is not None and choice.within_cap(request, near_button) and state.room(near_button)
    )
    config = choice.ready(near_button) if allowed else None
    if request is not None and config is not None:
        with action(near_button):
            job = worker.start_generate(
                request,
                config,
                store=state.store(),
                fail_scenes=[fail_scene] if fail_scene else [],
                max_cost=choice.max_cost,
            )
            state.set_job("generate", job)

if job is None and watched:
    st.divider()
    _saved(watched, on_disk)
elif job is not None:
    st.divider()
    lane = job.lanes[0]
    if not job.done:
        live.cancel_button(job, key="gen_cancel")
        live.live_run(job, "gen")
    elif lane.result is not None:
        # the run on disk, not the job's copy: Save, Undo and Regenerate change it
        saved = lane.run_dir.load_script() if lane.run_dir else None
        results.script_view(saved or lane.result, key="gen", run=lane.run_dir)
    else:
        if lane.cancelled or lane.capped:  # interrupted on disk: every finished scene kept
            st.warning(lane.note or lane.status, icon=":material/cancel:")
        else:
            st.error(lane.error or "the run failed")
        if lane.run_dir is not None:
            _resume_button(lane.run_dir)
        results.partial_view(lane.scenes(), lane.timings(), lane.request, key="gen")
