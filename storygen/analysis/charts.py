"""DataFrames from storygen.analysis.frames into Plotly figures; no Streamlit here.

The five figures of a comparison: a timeline of every scene per configuration (drawn in
``analysis.gantt``), time per batch, speedup against the ideal, speed against context lag
and speed against continuity findings; a sixth, the concurrency over time, when a run found
its own. PNG files come from ``analysis.png`` (re-exported here).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Re-exported: these lived here before the timeline and the shared style had modules of their
# own, and pages, notebooks and tests import them from here.
from storygen.analysis.chart_style import (
    BATCH_COLOURS,
    ESTIMATED_NOTE,
    STRATEGY_COLOURS,
)
from storygen.analysis.chart_style import empty as _empty
from storygen.analysis.chart_style import layout as _layout
from storygen.analysis.gantt import (  # noqa: F401
    BACKUP_LOST,
    BACKUP_WON,
    CALLS,
    FIRST_TOKEN,
    SUMMARY_KNOWN,
    WAIT_COLOUR,
    timeline_figure,
)
from storygen.analysis.png import chromium_path, figure_png, png_unavailable_reason  # noqa: F401


def batch_time_figure(batches: pd.DataFrame, title: str = "Time per batch") -> go.Figure:
    """Per batch, its median call and on top the time it waited for its straggler."""
    if batches.empty:
        return _empty(title, "Sequential runs have no batches.")
    fig = go.Figure()
    configs = list(dict.fromkeys(batches["config"]))
    for i, config in enumerate(configs):
        df = batches[batches["config"] == config]
        colour = BATCH_COLOURS[i % len(BATCH_COLOURS)]
        fig.add_trace(
            go.Bar(
                x=df["batch"],
                y=df["median_call_s"],
                offsetgroup=config,
                legendgroup=config,
                name=f"{config}: median call",
                marker_color=colour,
                hovertemplate=f"{config} batch %{{x}}: median call %{{y:.2f}}s<extra></extra>",
            )
        )
        fig.add_trace(
            go.Bar(
                x=df["batch"],
                y=df["straggler_wait_s"],
                base=df["median_call_s"],
                offsetgroup=config,
                legendgroup=config,
                name=f"{config}: straggler wait",
                marker={"color": colour, "opacity": 0.45, "pattern": {"shape": "/"}},
                hovertemplate=f"{config} batch %{{x}}: waited %{{y:.2f}}s more<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="batch", dtick=1 if batches["batch"].max() <= 30 else None)
    fig.update_yaxes(title_text="batch time (s)")
    fig.update_layout(barmode="group", bargap=0.2)
    return _layout(fig, title, 420)


def speedup_figure(
    summary: pd.DataFrame, title: str = "Speedup vs sequential", *, labels: bool = True
) -> go.Figure:
    """Measured speedup per configuration against the ideal line speedup = concurrency
    (``labels=False`` leaves the numbers to the hover, for a sweep of many sizes)."""
    if summary.empty:
        return _empty(title, "No finished run.")
    if (summary["baseline"] == "estimated").any():
        title = f"{title} ({ESTIMATED_NOTE})"
    top = max(int(summary["concurrency"].max()), 1)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[1, top],
            y=[1, top],
            mode="lines",
            line={"dash": "dash", "color": "#9A9A9A"},
            name="ideal: speedup = concurrency",
            hoverinfo="skip",
        )
    )
    for strategy, df in summary.groupby("strategy", sort=False):
        df = df.sort_values("concurrency")
        fig.add_trace(
            go.Scatter(
                x=df["concurrency"],
                y=df["speedup"],
                mode="lines+markers+text" if labels else "lines+markers",
                text=[f"{x:.2f}x" for x in df["speedup"]],
                textposition="bottom right",
                marker={"size": 11, "color": STRATEGY_COLOURS.get(str(strategy), "#444")},
                line={"color": STRATEGY_COLOURS.get(str(strategy), "#444")},
                name=str(strategy),
                customdata=df[["config", "efficiency"]].to_numpy(),
                hovertemplate=(
                    "%{customdata[0]}: %{y:.2f}x, efficiency %{customdata[1]:.2f}<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="concurrency (batch size or window)", range=[0, top * 1.12 + 0.5])
    fig.update_yaxes(title_text="speedup (x)", range=[0, max(top, summary["speedup"].max()) * 1.1])
    return _layout(fig, title, 420)


def _speed_against(
    summary: pd.DataFrame, column: str, title: str, axis: str, hover: str
) -> go.Figure:
    """Each configuration as a point: its speedup (up) against what it paid for it (right)."""
    if summary.empty:
        return _empty(title, "No finished run.")
    if (summary["baseline"] == "estimated").any():
        title = f"{title} ({ESTIMATED_NOTE})"
    fig = go.Figure()
    for strategy, df in summary.groupby("strategy", sort=False):
        fig.add_trace(
            go.Scatter(
                x=df[column],
                y=df["speedup"],
                mode="markers+text",
                text=list(df["config"]),
                textposition="middle right",
                marker={"size": 13, "color": STRATEGY_COLOURS.get(str(strategy), "#444")},
                name=str(strategy),
                hovertemplate=f"%{{text}}: %{{y:.2f}}x {hover}<extra></extra>",
            )
        )
    top = float(summary[column].max())
    # Room on the right for the labels, a little on the left for a point at 0.
    fig.update_xaxes(title_text=axis, range=[-0.05 * top - 0.1, top * 1.3 + 0.6])
    fig.update_yaxes(title_text="speedup (x)", range=[0, float(summary["speedup"].max()) * 1.15])
    return _layout(fig, title, 420)


def tradeoff_figure(
    summary: pd.DataFrame, title: str = "Speed vs context lag: what a user is choosing"
) -> go.Figure:
    """Each configuration as a point: how much faster, and how much story it did not see."""
    return _speed_against(
        summary,
        "mean_context_lag",
        title,
        "mean context lag (earlier scenes not yet written)",
        "at a mean lag of %{x:.2f} scenes",
    )


def continuity_figure(
    summary: pd.DataFrame, title: str = "Speed vs continuity findings"
) -> go.Figure:
    """Each configuration as a point: how much faster, and how many continuity problems
    (``core.continuity.check``) its script has: the measured cost behind context lag."""
    return _speed_against(
        summary,
        "findings",
        title,
        "continuity findings in the script",
        "with %{x} continuity findings",
    )


def concurrency_figure(
    concurrency: pd.DataFrame, title: str = "Calls allowed in flight (adaptive concurrency)"
) -> go.Figure:
    """A step line per adaptive run: the limit its controller set, from start to end, on the
    timeline's clock (from ``analysis.concurrency_frame``)."""
    if concurrency.empty:
        return _empty(title, "No adaptive run: every run kept its fixed size.", height=260)
    fig = go.Figure()
    for i, (config, df) in enumerate(concurrency.groupby("config", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=df["time_s"],
                y=df["limit"],
                mode="lines+markers",
                line={"shape": "hv", "color": BATCH_COLOURS[i % len(BATCH_COLOURS)], "width": 2},
                marker={"size": 5},
                name=str(config),
                hovertemplate=f"{config}: %{{y}} in flight from %{{x:.2f}}s<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="seconds since the run started", rangemode="tozero")
    fig.update_yaxes(title_text="calls in flight", rangemode="tozero")
    return _layout(fig, title, 300)


def comparison_figures(
    scenes: pd.DataFrame,
    batches: pd.DataFrame,
    summary: pd.DataFrame,
    concurrency: pd.DataFrame | None = None,
) -> dict[str, go.Figure]:
    """The charts of a comparison, by a file-friendly name: the five, and the concurrency
    over time right after the timeline when some run is adaptive."""
    figures = {"timeline": timeline_figure(scenes)}
    if concurrency is not None and not concurrency.empty:
        figures["concurrency"] = concurrency_figure(concurrency)
    figures["batch_time"] = batch_time_figure(batches)
    figures["speedup"] = speedup_figure(summary)
    figures["tradeoff"] = tradeoff_figure(summary)
    figures["continuity"] = continuity_figure(summary)
    return figures
