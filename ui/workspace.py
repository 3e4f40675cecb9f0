"""Who the visitor is and which runs are theirs.

A local single user (the default) works in the whole run store, as the CLI does. In a shared
deployment (``STORYGEN_SHARED=1``, or ``shared = true`` in the app's secrets) each visitor
works in a workspace of their own, a folder of the run store (``RunStore.workspace``): the
signed-in user when Streamlit's login is configured (an ``[auth]`` table in secrets.toml),
else a random id kept in the page address (``?ws=``), so a reload or a bookmark comes back
to it. Every page lists and opens runs through ``state.store()``, which is this folder.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from storygen import InvalidRequestError
from storygen.core.run_caps import RunCaps
from storygen.store.run_store import WORKSPACE_ID
from ui.settings import secret_value, setting

SHARED = "STORYGEN_SHARED"
PARAM = "ws"  # the page address's workspace id, without a login
_KEY = "_workspace"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Workspace:
    """``id`` None: the local single user, who sees the whole store."""

    id: str | None = None
    user: str | None = None  # the signed-in visitor's name or email
    caps: RunCaps | None = None  # shared: what one run may ask for

    @property
    def shared(self) -> bool:
        return self.id is not None


def is_shared() -> bool:
    return str(setting(SHARED) or secret_value("shared") or "").strip().lower() in _TRUE


def _auth() -> Mapping[str, object]:
    auth = secret_value("auth")
    return auth if isinstance(auth, Mapping) else {}


def login_configured() -> bool:
    """Whether secrets.toml has an [auth] table: Streamlit's login (OIDC) is set up."""
    return bool(_auth())


def login_provider() -> str | None:
    """The provider to pass to st.login: the first [auth.<name>] table, or None for the
    single provider configured in [auth] itself."""
    return next((name for name, value in _auth().items() if isinstance(value, Mapping)), None)


def _signed_in() -> Workspace | None:
    """The signed-in visitor's workspace; None (a sign-in screen drawn) when not signed in."""
    provider = login_provider()
    if not st.user.get("is_logged_in"):
        st.title("storygen")
        st.info("This dashboard is shared: sign in to see your own runs.")
        st.button("Sign in", type="primary", on_click=st.login, args=(provider,))
        return None
    who = str(st.user.get("email") or st.user.get("sub") or "").strip()
    if not who:  # every such visitor would share one workspace
        st.error(
            "Your sign-in gave neither an email nor a subject id, so your runs cannot be told "
            "from anyone else's: ask whoever deployed this dashboard to request the email scope.",
            icon=":material/error:",
        )
        return None
    # a folder name, never the email; one workspace however the provider cases the address
    digest = hashlib.sha256(who.strip().lower().encode()).hexdigest()[:24]
    return Workspace(f"user-{digest}", who)


def _from_address() -> str:
    """This session's id, else the address's (a reload, a bookmark), else a new one."""
    kept = st.session_state.get(_KEY)
    if isinstance(kept, str):
        return kept
    given = st.query_params.get(PARAM)
    if given and WORKSPACE_ID.fullmatch(given):
        return given
    if given:
        st.warning(
            f"The address names workspace {given[:70]!r}, which is not a workspace id "
            "(8 to 64 letters, digits, - or _): this is a new, empty workspace.",
            icon=":material/warning:",
        )
    return secrets.token_urlsafe(12)


def current() -> Workspace | None:
    """This visitor's workspace, the address kept in step with it; None when the page must
    stop (a sign-in screen, or a deployment setting to fix, is drawn)."""
    if not is_shared():
        return Workspace()
    try:
        caps = RunCaps.from_settings(setting)
    except InvalidRequestError as exc:
        st.error(f"This shared dashboard is misconfigured: {exc}", icon=":material/error:")
        return None
    if login_configured():
        found = _signed_in()
        return None if found is None else Workspace(found.id, found.user, caps)
    workspace_id = _from_address()
    st.session_state[_KEY] = workspace_id
    if st.query_params.get(PARAM) != workspace_id:  # page links clear the address
        st.query_params[PARAM] = workspace_id
    return Workspace(workspace_id, None, caps)
