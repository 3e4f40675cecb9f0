"""What every figure of the dashboard shares: its colours, its layout and how it says it
has nothing to show."""

from __future__ import annotations

import plotly.graph_objects as go

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
    "pipelined": "#B279A2",
}
ESTIMATED_NOTE = "sequential estimated from measured call times"
_FONT = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13}


def layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xref": "paper", "xanchor": "left"},
        height=height,
        template="plotly_white",
        font=_FONT,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    return fig


def empty(title: str, message: str, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, title, height)
