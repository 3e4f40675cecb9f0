"""Compare: one request, sequentially and at several batch sizes, live side by side, each
configuration also with hedged calls or an adaptive size if asked."""

from __future__ import annotations

from typing import Any

import streamlit as st

from storygen import InvalidRequestError, ScriptRequest
from storygen.core.bounds import CONCURRENCY
from storygen.core.labels import request_label
from storygen.jobs import worker
from storygen.runner import plan as planning
from ui import live, results, state
from ui.actions import action
from ui.forms import prefill, request_form
from ui.shell import ensure_shell

ensure_shell()

SIZES = [2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100]
OPTIONS: list[planning.Size] = [*SIZES, planning.ADAPTIVE]  # "adaptive": found at run time

st.title("Compare batch sizes")
st.caption(
    "The same request written sequentially and with each configuration, all at once. "
    "Every run meets the same simulated latencies, so the differences come from scheduling alone."
)

job = state.job("compare")  # the address's after a reload: its request fills the form
if job is not None:
    prefill("cmp", job.lanes[0].request, state.watched_id("compare") or "")
form = request_form("cmp", scheduling=False)
keep: dict[str, Any] = {"persist_state": "session"}
batched, windowed, outline, pipelined = st.columns(4)
sizes = batched.multiselect(
    "Batch sizes",
    OPTIONS,
    default=[3, 5, 10],
    key="cmp_batched",
    help="'adaptive' sizes each batch from how the provider answers.",
    **keep,
)
windows = windowed.multiselect(
    "Windowed (W in flight)",
    OPTIONS,
    default=[],
    key="cmp_windowed",
    help="No batch barrier: a free slot is filled at once. 'adaptive' moves the window.",
    **keep,
)
outlines = outline.multiselect(
    "Outline (W in flight)",
    OPTIONS,
    default=[],
    key="cmp_outline",
    help="Plan-then-write: one outline call, then every scene in parallel.",
    **keep,
)
pipes = pipelined.multiselect(
    "Pipelined (W in flight)",
    OPTIONS,
    default=[],
    key="cmp_pipelined",
    help="Each answer streams, summary first; a scene starts as soon as its predecessor's "
    "summary is known, so it sees every earlier summary (lag 0) at a pipeline's speed.",
    **keep,
)
tail, limit = st.columns(2, vertical_alignment="bottom")
hedged = tail.toggle(
    "Also with hedging",
    value=False,
    key="cmp_hedged",
    help=(
        "Each configuration runs twice, as it is and with a backup call for any call that "
        "runs far longer than the others ('+hedge'), on the same drawn latencies. Switch on "
        "'Simulate hung calls' in the sidebar to see what it saves."
    ),
    **keep,
)
adaptive_max = planning.DEFAULT_ADAPTIVE_MAX
if planning.ADAPTIVE in [*sizes, *windows, *outlines, *pipes]:
    adaptive_max = limit.number_input(
        "Adaptive: at most (calls in flight)",
        min_value=int(CONCURRENCY.low),
        max_value=int(CONCURRENCY.high),
        value=planning.DEFAULT_ADAPTIVE_MAX,
        step=1,
        key="cmp_adaptive_max",
        help="An adaptive run starts small and grows while the provider keeps up, up to this.",
        **keep,
    )
plan_slot = st.empty()
choice = state.backend()
measure = True
if choice.config is not None and choice.config.kind != "simulated":
    measure = st.checkbox(
        "Also pay for a sequential run (otherwise its time is estimated from measured calls)",
        value=False,
        key="cmp_measure_sequential",
    )


def _allowed(request: ScriptRequest, plan: list[planning.PlanEntry]) -> bool:
    """Every lane within a shared deployment's caps, and all of them within the spend cap
    (one total): else the message goes next to the field that must change."""
    with action(plan_slot):
        lanes = planning.plan_requests(request, plan, measure)
        for lane in lanes:
            if (over := state.over_caps(lane)) is None:
                continue
            if over.field == "duration_s":
                form.show(over)
            else:  # a batch size or window of the plan
                plan_slot.error(f"{request_label(lane)}: {over}")
            return False
        return choice.within_cap(lanes, near_button) and state.room(near_button)
    return False


plan = planning.comparison_plan(
    sizes, windows, outlines, pipes, hedged=hedged, adaptive_max=int(adaptive_max)
)
try:  # the estimate before Run, on a priced model; a bad field is said on Run
    planned = choice.estimate_line(
        planning.plan_requests(ScriptRequest.build(**form.values), plan, measure)
    )
except InvalidRequestError:
    planned = None
if planned:
    st.caption(planned)
clicked = st.button("Run comparison", type="primary", disabled=job is not None and not job.done)
near_button = st.empty()
if clicked:
    request = form.build()
    if len(plan) == 1:
        plan_slot.error("Choose at least one batch size or window to compare with sequential.")
    elif request is not None and _allowed(request, plan) and (config := choice.ready(near_button)):
        with action(plan_slot):
            job = worker.start_comparison(
                request,
                plan,
                config,
                store=state.store(),
                measure_sequential=measure,
                max_cost=choice.max_cost,
            )
            state.set_job("compare", job)

if job is None and (watched := state.watched_id("compare")):
    st.info(
        f"Comparison {watched[:32]} is not running in this app any more (the app restarted, "
        "or it is someone else's): your runs are on the Runs page, where you can compare them."
    )
elif job is not None:
    st.divider()
    st.subheader("Lanes")
    if not job.done:
        live.cancel_button(job, key="cmp_cancel")
        live.live_lanes(job)
    else:
        live.lanes(job)
        if job.status in ("cancelled", "capped"):
            st.caption("Stopped runs keep their finished scenes: Runs resumes each one.")
        results.comparison_view(job.scripts(), job.baseline, job.lanes[0].request, key="cmp")
