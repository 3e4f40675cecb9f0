"""Timelines and scripts as pandas DataFrames, the figures drawn from them, and the report.

The frames are re-exported here (``storygen.analysis.summary_frame``); charts and the report
load Plotly, so they are imported by name: ``from storygen.analysis import charts``.
"""

from storygen.analysis.frames import (
    batch_frame,
    concurrency_frame,
    display_summary,
    measured_baseline,
    results_json,
    scene_frame,
    scenes_of,
    sequential_estimate,
    summary_frame,
)
from storygen.analysis.tables import findings_frame, latest_first, runs_frame, script_frame

__all__ = [
    "batch_frame",
    "concurrency_frame",
    "display_summary",
    "findings_frame",
    "latest_first",
    "measured_baseline",
    "results_json",
    "runs_frame",
    "scene_frame",
    "scenes_of",
    "script_frame",
    "sequential_estimate",
    "summary_frame",
]
