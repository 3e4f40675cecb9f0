"""A chart as PNG: kaleido renders it with the installed Chromium, off the network."""

from __future__ import annotations

import struct

import pandas as pd

from storygen.analysis.charts import figure_png, png_unavailable_reason, speedup_figure


def test_a_chart_renders_to_a_png_of_the_asked_size(chromium: str, monkeypatch) -> None:
    monkeypatch.setenv("BROWSER_PATH", chromium)
    assert png_unavailable_reason() is None
    summary = pd.DataFrame(
        {
            "config": ["sequential", "batched(5)"],
            "strategy": ["sequential", "batched"],
            "concurrency": [1, 5],
            "speedup": [1.0, 3.4],
            "efficiency": [1.0, 0.68],
            "baseline": ["measured", "measured"],
        }
    )
    png = figure_png(speedup_figure(summary), width=640, height=360)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (640, 360)
