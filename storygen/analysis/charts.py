"""DataFrames from storygen.analysis.frames into Plotly figures; no Streamlit here.

The five figures of a comparison: a timeline of every scene per configuration, time per
batch, speedup against the ideal, speed against context lag and speed against continuity
findings; a sixth, the concurrency over time, when a run found its own. PNG files come from
``analysis.png`` (re-exported here).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Re-exported: PNG files were made here before they had their own module.
from storygen.analysis.png import chromium_path, figure_png, png_unavailable_reason  # noqa: F401

# Adjacent batches must differ; ten colours cycle over the batches of a run.
BATCH_COLOURS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#B279A2",
    "#EECA3B",
    "#9D755D",
    "#FF9DA6",
    "#2F4B7C",
)
STRATEGY_COLOURS = {
    "sequential": "#7F7F7F",
    "batched": "#4C78A8",
    "windowed": "#54A24B",
    "outline": "#F58518",
}
WAIT_COLOUR = "rgba(160, 160, 160, 0.45)"
OUTLINE_COLOUR = "#3B3B3B"
# Calls that are not a scene's first: drawn over the lane in their own colour and legend.
CALLS = {
    "outline": ("outline call", OUTLINE_COLOUR, "outline %{base:.2f}s → +%{x:.2f}s"),
    "bible": ("story bible call", "#6B4C9A", "story bible %{base:.2f}s → +%{x:.2f}s"),
    "repair": ("repair call", "#C0392B", "scene %{y} repaired %{base:.2f}s → +%{x:.2f}s"),
}
# A hedged scene's backup call: a thin bar inside the scene's own, dark when its answer was
# used, hollow when the first call answered first and the backup was cancelled.
BACKUP_WON = "backup call (won)"
BACKUP_LOST = "backup call (cancelled: the first call won)"
BACKUP_WON_COLOUR = "#1B1B1B"
BACKUP_LOST_COLOUR = "rgba(255, 255, 255, 0.9)"
BACKUP_WIDTH = 0.35
ESTIMATED_NOTE = "sequential estimated from measured call times"
_FONT = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13}


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xref": "paper", "xanchor": "left"},
        height=height,
        template="plotly_white",
        font=_FONT,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    return fig


def _empty(title: str, message: str, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height)


def _hedge_notes(body: pd.DataFrame) -> list[str]:
    """The line a scene's hover adds when it was hedged: when the backup started, who won."""
    if "hedged" not in body:
        return [""] * len(body)
    return [
        (f"<br>hedged at {start:.2f}s · {'backup' if won else 'first call'} won" if hedged else "")
        for hedged, start, won in zip(
            body["hedged"], body["hedge_start_s"], body["hedge_won"], strict=True
        )
    ]


def _backup_bars(fig: go.Figure, body: pd.DataFrame, row: int, shown: set[bool]) -> None:
    """A thin bar from each backup's start to the scene's end (when one answer won and the
    other call was cancelled), in its own colour for "backup won" and "first call won"."""
    if "hedged" not in body:
        return
    hedged = body[body["hedged"].astype(bool)]
    for won, name, colour in (
        (True, BACKUP_WON, BACKUP_WON_COLOUR),
        (False, BACKUP_LOST, BACKUP_LOST_COLOUR),
    ):
        part = hedged[hedged["hedge_won"].astype(bool) == won]
        if part.empty:
            continue
        fig.add_trace(
            go.Bar(
                y=part["scene"],
                x=part["end_s"] - part["hedge_start_s"],
                base=part["hedge_start_s"],
                width=BACKUP_WIDTH,
                orientation="h",
                marker={"color": colour, "line": {"color": BACKUP_WON_COLOUR, "width": 1}},
                name=name,
                legendgroup=name,
                showlegend=won not in shown,
                hovertemplate=(
                    "scene %{y}: backup from %{base:.2f}s, +%{x:.2f}s<br>"
                    + ("backup won" if won else "first call won, backup cancelled")
                    + "<extra></extra>"
                ),
            ),
            row=row,
            col=1,
        )
        shown.add(won)


def timeline_figure(scenes: pd.DataFrame, title: str = "Timeline of every scene") -> go.Figure:
    """A Gantt lane per configuration; colour is the batch, grey is a slot waiting for the
    batch's straggler; the outline call of plan-then-write, the story bible call and the
    repair pass's calls have a colour each (``CALLS``). A hedged scene's backup call is a
    thin bar inside its own: dark when the backup won, hollow when not."""
    if scenes.empty:
        return _empty(title, "No scene has finished yet.")
    configs = list(dict.fromkeys(scenes["config"]))
    n = len(configs)
    max_scene = int(scenes["scene"].max())
    row_px = max(140, min(300, 3 * max_scene + 40))
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        subplot_titles=[c or "this run" for c in configs],
        vertical_spacing=min(0.08, 0.35 / n) if n > 1 else 0.0,
    )
    shown_wait = False
    shown_calls: set[str] = set()
    shown_backups: set[bool] = set()
    for row, config in enumerate(configs, start=1):
        df = scenes[scenes["config"] == config]
        body = df[df["kind"] == "scene"]
        for kind, (name, colour, hover) in CALLS.items():
            calls = df[df["kind"] == kind]
            if calls.empty:
                continue
            fig.add_trace(
                go.Bar(
                    y=calls["scene"],
                    x=calls["call_s"],
                    base=calls["start_s"],
                    orientation="h",
                    marker_color=colour,
                    name=name,
                    legendgroup=kind,
                    showlegend=kind not in shown_calls,
                    hovertemplate=f"{hover}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            shown_calls.add(kind)
        colours = [BATCH_COLOURS[(int(b) - 1) % len(BATCH_COLOURS)] for b in body["batch"]]
        fig.add_trace(
            go.Bar(
                y=body["scene"],
                x=body["call_s"],
                base=body["start_s"],
                orientation="h",
                marker={"color": colours, "line": {"width": 0}},
                customdata=body[["batch", "context_lag", "attempts"]]
                .assign(hedge=_hedge_notes(body))
                .to_numpy(),
                name=config or "scenes",
                showlegend=False,
                hovertemplate=(
                    "scene %{y} · batch %{customdata[0]}<br>"
                    "start %{base:.2f}s · call %{x:.2f}s<br>"
                    "context lag %{customdata[1]} · attempts %{customdata[2]}"
                    "%{customdata[3]}<extra></extra>"
                ),
            ),
            row=row,
            col=1,
        )
        _backup_bars(fig, body, row, shown_backups)
        waiting = body[body["wait_s"] > 0]
        if not waiting.empty:
            fig.add_trace(
                go.Bar(
                    y=waiting["scene"],
                    x=waiting["wait_s"],
                    base=waiting["end_s"],
                    orientation="h",
                    marker={"color": WAIT_COLOUR, "line": {"width": 0}},
                    name="waiting for the batch's straggler",
                    legendgroup="wait",
                    showlegend=not shown_wait,
                    hovertemplate="scene %{y} idle %{x:.2f}s for its batch<extra></extra>",
                ),
                row=row,
                col=1,
            )
            shown_wait = True
        fig.update_yaxes(
            autorange="reversed", title_text="scene", row=row, col=1, showgrid=False, zeroline=False
        )
    fig.update_xaxes(title_text="seconds since the run started", row=n, col=1)
    fig.update_layout(barmode="overlay", bargap=0.15)
    return _layout(fig, title, 90 + n * row_px)


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
