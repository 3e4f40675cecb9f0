"""Figures as PNG files, through kaleido and the installed Chromium, kept off the network."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import plotly.graph_objects as go


def chromium_path() -> str | None:
    """The browser kaleido will use: BROWSER_PATH, else a Chromium or Chrome on PATH."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    names: Sequence[str] = ("chromium", "chromium-browser", "google-chrome", "chrome")
    return next((p for n in names if (p := shutil.which(n))), None)


def png_unavailable_reason() -> str | None:
    """Why a PNG cannot be rendered here, or None when it can."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "PNG export needs kaleido (pip install 'kaleido>=1.0')."
    if chromium_path() is None:
        return "PNG export needs a Chromium: apt-get install chromium."
    return None


def figure_png(fig: go.Figure, width: int = 1200, height: int | None = None) -> bytes:
    """A PNG through kaleido and the installed Chromium.

    MathJax off and a dead loopback proxy: the headless browser renders a local page and
    must not reach for the network (kaleido would otherwise load MathJax from a CDN).
    """
    import kaleido

    height = height or int(fig.layout.height or 500)
    return bytes(
        kaleido.calc_fig_sync(
            fig.to_dict(),
            opts={"format": "png", "width": width, "height": height, "scale": 1},
            kopts={"mathjax": False, "proxy_server": "127.0.0.1:9"},
        )
    )
