"""The backend settings every page shares, in the sidebar.

Keys come from the password field, else st.secrets, else the environment; the screen only
ever says which source was used, never the key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from pydantic import SecretStr
from streamlit.delta_generator import DeltaGenerator

from storygen import InvalidRequestError, RunDir
from storygen.backends.config import DEFAULT_MODEL, OPENAI_URL, BackendConfig, keys_from_env
from storygen.backends.preflight import check_backend
from storygen.backends.simulated import HANG_FACTOR
from storygen.core.bounds import TIME_SCALE
from storygen.core.models import ScriptRequest
from storygen.core.pricing import is_simulated
from storygen.core.spend import (
    Estimate,
    check_estimate,
    estimate,
    in_app_words,
    priced,
    unpriced,
)
from ui.settings import secret, setting
from ui.workspace import Workspace

SIMULATED, OPENAI = "Simulated", "OpenAI-compatible"
SHARED_MAX_SCALE = 1.0  # a shared dashboard's slowest simulated time scale: real speed
SEQUENTIAL_SCENES = 75  # a 10-minute video, for the time-scale hint
MEDIAN_CALL_S = 8.0
# "Simulate hung calls": a provider's heavy tail, as in issue 10's benchmarks
HANG_RATE = 0.02


@dataclass
class BackendChoice:
    """The validated backend config, or the problem to show next to its field."""

    config: BackendConfig | None
    problem: InvalidRequestError | None = None
    key_source: str | None = None
    slots: dict[str, DeltaGenerator] = field(default_factory=dict)
    max_cost: float | None = None  # the spend cap, USD; None: no cap

    def estimate_line(self, requests: ScriptRequest | Sequence[ScriptRequest]) -> str | None:
        """What the run (or runs, together) is expected to cost, on a priced model; None on
        the simulated LLM or a model without a price."""
        model = self.config.model if self.config is not None else None
        if not model or not priced(model):
            return None
        listed = [requests] if isinstance(requests, ScriptRequest) else list(requests)
        line = Estimate.total([estimate(r, model) for r in listed]).line(model)
        runs = f", across {len(listed)} runs" if len(listed) > 1 else ""
        return f"{line[0].upper()}{line[1:]}{runs}."

    def within_cap(
        self, requests: ScriptRequest | Sequence[ScriptRequest], near_button: DeltaGenerator
    ) -> bool:
        """Whether the run (or the runs of a comparison or a bulk run, as one total) may start
        under the spend cap: over it (or a cap on a model that cannot be priced), the message
        goes next to the cap's field, before any call."""
        model = self.config.model if self.config is not None else None
        listed = [requests] if isinstance(requests, ScriptRequest) else list(requests)
        return self._under_cap(model, near_button, lambda m: [estimate(r, m) for r in listed])

    def may_resume(self, runs: RunDir | Sequence[RunDir], near_button: DeltaGenerator) -> bool:
        """``within_cap`` for what saved runs still have to write, on their own model."""
        listed = [runs] if isinstance(runs, RunDir) else list(runs)
        if not listed:
            return True
        model = str(listed[0].backend_settings().get("model", "")) or None

        def left(model: str) -> list[Estimate]:
            return [
                estimate(
                    run.request(),
                    model,
                    done=len(run.load_checkpoint()),
                    plan_done=run.load_outline() is not None or run.load_bible() is not None,
                )
                for run in listed
            ]

        return self._under_cap(model, near_button, left)

    def _under_cap(
        self,
        model: str | None,
        near_button: DeltaGenerator,
        estimates: Callable[[str], list[Estimate]],
    ) -> bool:
        if self.max_cost is None or not model or is_simulated(model):
            return True
        try:
            if not priced(model):
                raise InvalidRequestError(f"{unpriced(model)}, or set the cap to 0", "max_cost")
            check_estimate(Estimate.total(estimates(model)), self.max_cost)
        except InvalidRequestError as exc:
            said = InvalidRequestError(in_app_words(str(exc)), "max_cost")
            self.show(said)
            near_button.error(f"Spend cap (sidebar): {said}")
            return False
        return True

    def show(self, exc: InvalidRequestError, *, warn: bool = False) -> None:
        slot = self.slots.get(exc.field or "") or self.slots.get("kind")
        if slot is not None:
            (slot.warning if warn else slot.error)(str(exc))

    def ready(self, near_button: DeltaGenerator) -> BackendConfig | None:
        """The config if a run may start; else the message goes next to the field, and a
        pointer to it next to the button that was pressed."""
        exc = self.problem
        if exc is None and self.config is not None:
            try:
                with st.spinner("Checking the backend…"):
                    check_backend(self.config)
            except InvalidRequestError as found:
                exc = found
        if exc is None:
            return self.config
        self.show(exc)
        near_button.error(f"Backend settings (sidebar): {exc}")
        return None


def _keys(typed: str) -> tuple[list[SecretStr], str | None]:
    if typed.strip():
        return [SecretStr(typed.strip())], "the field above"
    if stored := secret("OPENAI_API_KEY"):
        return [SecretStr(stored)], "st.secrets"
    if env := keys_from_env():
        return env, "the environment"
    return [], None


def _cap_default() -> tuple[float, InvalidRequestError | None]:
    """STORYGEN_MAX_COST from st.secrets, else the environment; unset: 0 (no cap)."""
    text = setting("STORYGEN_MAX_COST") or "0"
    try:
        value = float(text.strip().removeprefix("$"))
    except ValueError:
        value = -1.0
    if 0 <= value < float("inf"):
        return value, None
    said = f"STORYGEN_MAX_COST must be US dollars, 0 or more (got {text!r})"
    return 0.0, InvalidRequestError(said, "max_cost")


def _shared_cap(slots: dict[str, DeltaGenerator], most: float) -> float:
    """A shared deployment's cap: the visitor may lower it, never lift or remove it."""
    cap = st.number_input(
        "Spend cap per run (USD)",
        min_value=0.01,
        max_value=most,
        value=most,
        step=0.05,
        format="%.2f",
        key="spend_cap_shared",
        persist_state="session",
        help=f"At most ${most:.2f}, set by whoever deployed this dashboard.",
    )
    slots["max_cost"] = st.empty()
    return float(cap)


def _spend_cap(slots: dict[str, DeltaGenerator]) -> tuple[float | None, InvalidRequestError | None]:
    default, problem = _cap_default()
    cap = st.number_input(
        "Spend cap (USD)",
        min_value=0.0,
        value=default,
        step=0.5,
        format="%.2f",
        key="spend_cap",
        persist_state="session",
        help="0 = none. A run on a priced model estimated over it is refused before any call; "
        "one that spends it stops, keeps its scenes and can be resumed. Default: "
        "STORYGEN_MAX_COST in st.secrets or the environment.",
    )
    slots["max_cost"] = st.empty()
    return (float(cap) or None), problem


def _simulated_fields(most: float = float(TIME_SCALE.high)) -> dict[str, Any]:
    """``most``: the slowest time scale allowed (a shared dashboard: real speed, so that no
    visitor ties a worker up for hours)."""
    scale = st.number_input(
        "Time scale",
        min_value=float(TIME_SCALE.low),
        max_value=most,
        value=0.01,
        step=0.005,
        format="%.4f",
        key="sim_time_scale",
        persist_state="session",
        help="Multiplies every simulated latency: 1 = real speed (~8 s a call), 0.01 = demo.",
    )
    st.caption(
        f"A median call takes {MEDIAN_CALL_S * scale:.3g} s; a 10-minute video written "
        f"sequentially takes ≈ {SEQUENTIAL_SCENES * MEDIAN_CALL_S * scale:.3g} s."
    )
    error_rate = st.slider(
        "Transient error rate",
        0.0,
        0.5,
        0.0,
        0.05,
        key="sim_error_rate",
        persist_state="session",
        help="Simulated 503s, retried with backoff: the run still finishes.",
    )
    hangs = st.toggle(
        "Simulate hung calls",
        value=False,
        key="sim_hangs",
        persist_state="session",
        help=(
            f"{HANG_RATE:.0%} of calls take {HANG_FACTOR:g}x the median, as a call stuck in a "
            "provider's queue does. Compare a configuration with and without hedging to see "
            "the backup calls save the run."
        ),
    )
    return {
        "kind": "simulated",
        "time_scale": scale,
        "error_rate": error_rate,
        "hang_rate": HANG_RATE if hangs else 0.0,
        "hang_factor": HANG_FACTOR,
    }


def _openai_fields(slots: dict[str, DeltaGenerator]) -> tuple[dict[str, Any], str | None]:
    base_url = st.text_input(
        "Base URL",
        value=setting("OPENAI_BASE_URL") or OPENAI_URL,
        key="oa_base_url",
        persist_state="session",
        help="Any OpenAI-compatible server, ending in /v1.",
    )
    slots["base_url"] = st.empty()
    model = st.text_input(
        "Model",
        value=setting("STORYGEN_MODEL") or DEFAULT_MODEL,
        key="oa_model",
        persist_state="session",
    )
    slots["model"] = st.empty()
    typed = st.text_input(
        "API key",
        type="password",
        key="oa_api_key",
        persist_state="session",
        placeholder="empty: st.secrets or OPENAI_API_KEY",
    )
    slots["api_keys"] = st.empty()
    keys, source = _keys(typed or "")
    if source:
        st.caption(f"Using the API key from {source}.")
    rpm = st.number_input(
        "Requests per minute (0 = no limit)", min_value=0, value=0, step=10, key="oa_rpm"
    )
    slots["rpm"] = st.empty()
    tpm = st.number_input(
        "Tokens per minute (0 = no limit)", min_value=0, value=0, step=1000, key="oa_tpm"
    )
    slots["tpm"] = st.empty()
    fields = {
        "kind": "openai",
        "base_url": base_url.strip() or None,
        "model": model.strip() or None,
        "api_keys": keys,
        "rpm": int(rpm) or None,
        "tpm": int(tpm) or None,
    }
    return fields, source


def _shared_backend() -> tuple[dict[str, Any], str | None]:
    """A shared deployment calls only the server it was configured with (st.secrets or the
    environment), or the simulated LLM when none is: a visitor types no URL and no key."""
    keys, source = _keys("")
    if not keys:
        st.caption("Simulated LLM (set by whoever deployed this dashboard).")
        return _simulated_fields(SHARED_MAX_SCALE), None
    base_url = setting("OPENAI_BASE_URL") or OPENAI_URL
    model = setting("STORYGEN_MODEL") or DEFAULT_MODEL
    st.caption(f"{OPENAI} server `{base_url}`, model `{model}`, set by whoever deployed it.")
    fields = {"kind": "openai", "base_url": base_url, "model": model, "api_keys": keys}
    return fields, source


def _visitor(visitor: Workspace) -> None:
    """Whose runs these are, and what a run may ask for."""
    st.subheader("Workspace")
    if visitor.user is not None:
        st.caption(f"Signed in as {visitor.user}: your runs only.")
        st.button("Sign out", key="sign_out", on_click=st.logout)
    else:
        st.caption(
            "Your runs only. Bookmark this page's address to come back to them: anyone "
            "who has the address sees them too."
        )
    caps = visitor.caps
    if caps is not None:
        st.caption(
            f"Per run: at most {caps.max_duration_s:g} s of video, {caps.max_in_flight} calls "
            f"in flight and ${caps.max_cost:.2f}; {caps.max_running} runs at once on this "
            "dashboard, every visitor's together."
        )


def _choose(slots: dict[str, DeltaGenerator]) -> tuple[dict[str, Any], str | None]:
    """The backend a local user picks: the simulated LLM or any OpenAI-compatible server."""
    kind = st.radio(
        "LLM",
        (SIMULATED, OPENAI),
        key="backend_kind",
        persist_state="session",
        help="Simulated: no key, no network, realistic latencies.",
    )
    slots["kind"] = st.empty()
    if kind == SIMULATED:
        fields = _simulated_fields()
        slots["time_scale"] = slots["error_rate"] = slots["kind"]
        return fields, None
    return _openai_fields(slots)


def backend_sidebar(visitor: Workspace | None = None) -> BackendChoice:
    """Render the backend settings; messages appear right below the field concerned."""
    visitor = visitor or Workspace()
    slots: dict[str, DeltaGenerator] = {}
    with st.sidebar:
        if visitor.shared:
            _visitor(visitor)
        st.subheader("Backend")
        if visitor.caps is not None:
            slots["kind"] = st.empty()
            fields, source = _shared_backend()
        else:
            fields, source = _choose(slots)
        try:
            config: BackendConfig | None = BackendConfig.build_config(**fields)
            problem = None
        except InvalidRequestError as exc:
            config, problem = None, exc
        if visitor.caps is not None and fields["kind"] == "simulated":
            max_cost: float | None = None  # the simulated LLM costs nothing
        elif visitor.caps is not None:
            max_cost = visitor.caps.cost(_shared_cap(slots, visitor.caps.max_cost))
        else:
            max_cost, cap_problem = _spend_cap(slots)
            problem = problem or cap_problem
        if problem is None and fields["kind"] == "openai" and not source:
            problem = InvalidRequestError(
                "no API key: enter one, put OPENAI_API_KEY in .streamlit/secrets.toml, "
                "or set OPENAI_API_KEY",
                "api_keys",
            )
        choice = BackendChoice(config, problem, source, slots, max_cost)
        if problem is not None:
            choice.show(problem, warn=True)
    return choice
