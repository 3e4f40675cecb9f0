"""The app around the pages: page config, navigation over pages/, the shared sidebar.

It lives here, not only in app.py, because Streamlit runs a page file on its own when the
first request a fresh server gets is a deep link (/compare): a ``pages/`` folder still
switches on its legacy multipage mode until ``st.navigation`` has been called once. Each page
starts with ``ensure_shell()``, which then runs the shell around it instead.
"""

from __future__ import annotations

import threading

import streamlit as st

from ui import workspace
from ui.sidebar import backend_sidebar

_local = threading.local()  # one script thread per session run


def main() -> None:
    _local.inside = True
    try:
        st.set_page_config(page_title="storygen", page_icon="🎬", layout="wide")
        page = st.navigation(
            [
                st.Page(
                    "pages/generate.py", title="Generate", icon=":material/edit_note:", default=True
                ),
                st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
                st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
                st.Page("pages/bulk.py", title="Bulk", icon=":material/dataset:"),
            ]
        )
        visitor = workspace.current()
        if visitor is None:  # a sign-in screen, or a deployment setting to fix
            return
        st.session_state["workspace"] = visitor
        st.session_state["backend_choice"] = backend_sidebar(visitor)
        page.run()
    finally:
        _local.inside = False


def ensure_shell() -> None:
    """Run the whole app around this page if Streamlit started the page without it."""
    if not getattr(_local, "inside", False):
        main()
        st.stop()
