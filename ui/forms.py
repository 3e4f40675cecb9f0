"""The request fields shared by Generate and Compare, each with a slot for its message.

Numbers are not bounded in the widgets: ScriptRequest is the one place that knows the allowed
ranges, and its message appears right below the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from storygen import InvalidRequestError, ScriptRequest
from storygen.core.bounds import CONCURRENCY, DURATION_S
from storygen.core.models import STRATEGIES

DEFAULT_IDEA = "A lighthouse keeper finds a map to a drowned city"
# The strategies whose scene k waits only for scenes 1..k-A: they take a lag allowance A.
LAGGED = ("windowed", "pipelined")
_REPAIR_SHARE: float = ScriptRequest.model_fields["repair_budget"].default


@dataclass
class RequestForm:
    values: dict[str, Any]
    slots: dict[str, DeltaGenerator] = field(default_factory=dict)

    def build(self, **overrides: Any) -> ScriptRequest | None:
        """The validated request, or None with the message shown next to its field."""
        try:
            return ScriptRequest.build(**{**self.values, **overrides})
        except InvalidRequestError as exc:
            self.show(exc)
            return None

    def show(self, exc: InvalidRequestError) -> None:
        slot = self.slots.get(exc.field or "") or self.slots["idea"]
        slot.error(str(exc))


def _lag_allowance(prefix: str) -> int | None:
    """A, or None (0 in the field) for the strategy's own default."""
    allowance = st.number_input(
        "Lag allowance (0 = default)",
        value=0,
        step=1,
        key=f"{prefix}_lag_allowance",
        help="Scene k starts once scenes 1..k-A are written (windowed) or once their "
        "summaries have streamed in (pipelined). 0 keeps the default: 2 x the window for "
        "windowed, 1 for pipelined (every earlier summary: no context lag).",
        persist_state="session",
    )
    return int(allowance) or None


def prefill(prefix: str, request: ScriptRequest, origin: str) -> None:
    """Show ``request`` in the form ``prefix`` draws next, once per ``origin`` (a run or job
    id): a page re-attached after a reload shows what its run was asked, and what is typed
    afterwards is kept."""
    done = f"_{prefix}_filled_from"
    if st.session_state.get(done) == origin:
        return
    st.session_state[done] = origin
    values: dict[str, Any] = {
        "idea": request.idea,
        "style": request.style,
        "language": request.language,
        "strategy": request.strategy,
        "concurrency": request.concurrency,
        "lag_allowance": request.lag_allowance or 0,
        "seed": request.seed,
        "bible": request.bible,
        "repair": request.repair,
    }
    if request.duration_s == int(request.duration_s):  # the field holds whole seconds
        values["duration"] = int(request.duration_s)
    for name, value in values.items():
        st.session_state[f"{prefix}_{name}"] = value


def request_form(prefix: str, *, scheduling: bool = True) -> RequestForm:
    """Idea, style, language, duration (and strategy with its size when ``scheduling``),
    the seed, and the story bible and repair switches."""
    slots: dict[str, DeltaGenerator] = {}
    values: dict[str, Any] = {}
    # a page switch must not wipe what was typed
    keep: dict[str, Any] = {"persist_state": "session"}
    values["idea"] = st.text_area(
        "Idea", DEFAULT_IDEA, key=f"{prefix}_idea", height=80, max_chars=2000, **keep
    )
    slots["idea"] = st.empty()
    first = st.columns(3 if scheduling else 4)
    with first[0]:
        values["duration_s"] = st.number_input(
            "Duration (seconds)",
            value=600,
            step=8,
            key=f"{prefix}_duration",
            help=f"{DURATION_S.low} to {DURATION_S.high} s; one scene per 8-second clip.",
            **keep,
        )
        slots["duration_s"] = st.empty()
    with first[1]:
        values["style"] = st.text_input("Style", "cinematic", key=f"{prefix}_style", **keep)
        slots["style"] = st.empty()
    with first[2]:
        values["language"] = st.text_input(
            "Language",
            "en",
            key=f"{prefix}_language",
            help="An ISO 639 code: en, es, pt-BR…",
            **keep,
        )
        slots["language"] = st.empty()
    second = st.columns(3) if scheduling else first[3:]
    if scheduling:
        with second[0]:
            values["strategy"] = st.selectbox(
                "Strategy", STRATEGIES, index=1, key=f"{prefix}_strategy", **keep
            )
            slots["strategy"] = st.empty()
        with second[1]:
            values["concurrency"] = st.number_input(
                "Batch size / window",
                value=5,
                step=1,
                key=f"{prefix}_concurrency",
                help="Batched: scenes per batch. Windowed, outline and pipelined: calls in "
                f"flight. {CONCURRENCY.low} to {CONCURRENCY.high}.",
                **keep,
            )
            slots["concurrency"] = st.empty()
            if values["strategy"] in LAGGED:
                values["lag_allowance"] = _lag_allowance(prefix)
                slots["lag_allowance"] = st.empty()
    with second[-1]:
        values["seed"] = st.number_input(
            "Seed",
            value=0,
            step=1,
            key=f"{prefix}_seed",
            help="The same seed draws the same latencies.",
            **keep,
        )
        slots["seed"] = st.empty()
        values["bible"] = st.checkbox(
            "Story bible",
            value=ScriptRequest.model_fields["bible"].default,
            key=f"{prefix}_bible",
            help="One short call before any scene fixes the cast (names, roles, looks), the "
            "setting and the key objects. Every scene prompt quotes it, and each scene's "
            "visual prompt restates the look of everyone in it. It costs one call's latency "
            "up front. Outline runs need no extra call: their outline is the bible.",
            **keep,
        )
        slots["bible"] = st.empty()
        values["repair"] = st.checkbox(
            "Repair continuity",
            value=ScriptRequest.model_fields["repair"].default,
            key=f"{prefix}_repair",
            help="After the scenes are written, the continuity check runs and the scenes it "
            "flags are written again, with the bible, both neighbours and the finding as "
            f"feedback, within a budget of extra calls ({_REPAIR_SHARE:.0%} of the scenes, at "
            "least 1). A missing look costs no call: with a story bible, every visual prompt "
            "restates the looks.",
            **keep,
        )
        slots["repair"] = st.empty()
    return RequestForm(values, slots)
