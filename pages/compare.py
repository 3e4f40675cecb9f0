"""Compare: one request, sequentially and at several batch sizes, live side by side."""

from __future__ import annotations

from typing import Any

import streamlit as st

from storygen import InvalidRequestError, worker
from ui import live, results, state
from ui.forms import request_form
from ui.shell import ensure_shell

ensure_shell()

SIZES = [2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100]

st.title("Compare batch sizes")
st.caption(
    "The same request written sequentially and with each configuration, all at once. "
    "Every run meets the same simulated latencies, so the differences come from scheduling alone."
)

form = request_form("cmp", scheduling=False)
keep: dict[str, Any] = {"persist_state": "session"}
batched, windowed, outline = st.columns(3)
sizes = batched.multiselect("Batch sizes", SIZES, default=[3, 5, 10], key="cmp_batched", **keep)
windows = windowed.multiselect(
    "Windowed (W in flight)",
    SIZES,
    default=[],
    key="cmp_windowed",
    help="No batch barrier: a free slot is filled at once.",
    **keep,
)
outlines = outline.multiselect(
    "Outline (W in flight)",
    SIZES,
    default=[],
    key="cmp_outline",
    help="Plan-then-write: one outline call, then every scene in parallel.",
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

job = state.job("compare")
clicked = st.button("Run comparison", type="primary", disabled=state.running("compare"))
near_button = st.empty()
if clicked:
    request = form.build()
    plan = worker.comparison_plan(sizes, windows, outlines)
    if len(plan) == 1:
        plan_slot.error("Choose at least one batch size or window to compare with sequential.")
    elif request is not None and (config := choice.ready(near_button)) is not None:
        try:
            job = worker.start_comparison(
                request, plan, config, store=state.store(), measure_sequential=measure
            )
        except InvalidRequestError as exc:
            plan_slot.error(str(exc))
        else:
            state.set_job("compare", job)

if job is not None:
    st.divider()
    st.subheader("Lanes")
    if not job.done:
        live.cancel_button(job, key="cmp_cancel")
        live.live_lanes(job)
    else:
        live.lanes(job)
        if job.status == "cancelled":
            st.caption("Cancelled runs keep their finished scenes: Runs resumes each one.")
        results.comparison_view(job.scripts(), job.baseline, job.lanes[0].request, key="cmp")
