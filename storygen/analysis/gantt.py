"""The timeline (a Gantt chart): a lane per configuration, a bar per scene call, and on
each bar what the strategy waited for: the batch's straggler, a backup call, the first
token and the moment the summary was known (when answers streamed)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from storygen.analysis.chart_style import BATCH_COLOURS, empty, layout

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
# A streamed answer's two moments, as small marks on its scene's bar: the first token, and
# the summary parsed from the stream (a pipelined run starts a later scene on it).
FIRST_TOKEN = "first token"
SUMMARY_KNOWN = "summary known"
STREAM_MARKS = {
    "first_token_s": (
        FIRST_TOKEN,
        {"symbol": "line-ns", "size": 11, "line": {"width": 2, "color": "#1B1B1B"}},
        "scene %{y}: first token at %{x:.2f}s<extra></extra>",
    ),
    "summary_s": (
        SUMMARY_KNOWN,
        {
            "symbol": "diamond",
            "size": 8,
            "color": "#FFFFFF",
            "line": {"width": 1.5, "color": "#1B1B1B"},
        },
        "scene %{y}: summary known at %{x:.2f}s, "
        "%{customdata:.2f}s after its call started<extra></extra>",
    ),
}


def _notes(body: pd.DataFrame) -> list[str]:
    """What a scene's hover adds: when its backup started and who won; runaways cut."""
    notes = [""] * len(body)
    if "hedged" in body:
        notes = [
            note + (f"<br>hedged at {start:.2f}s · {'backup' if won else 'first call'} won")
            if hedged
            else note
            for note, hedged, start, won in zip(
                notes, body["hedged"], body["hedge_start_s"], body["hedge_won"], strict=True
            )
        ]
    if "runaways" in body:
        notes = [
            note + (f"<br>{int(n)} runaway answer{'s' if n != 1 else ''} cut" if n else "")
            for note, n in zip(notes, body["runaways"], strict=True)
        ]
    return notes


def _backup_bars(fig: go.Figure, body: pd.DataFrame, row: int, shown: set[str]) -> None:
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
                showlegend=name not in shown,
                hovertemplate=(
                    "scene %{y}: backup from %{base:.2f}s, +%{x:.2f}s<br>"
                    + ("backup won" if won else "first call won, backup cancelled")
                    + "<extra></extra>"
                ),
            ),
            row=row,
            col=1,
        )
        shown.add(name)


def _stream_marks(fig: go.Figure, body: pd.DataFrame, row: int, shown: set[str]) -> None:
    """The first token and the summary of each scene whose answer streamed, on its bar."""
    for column, (name, marker, hover) in STREAM_MARKS.items():
        if column not in body:
            continue
        marked = body[body[column].notna()]
        if marked.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=marked[column],
                y=marked["scene"],
                mode="markers",
                marker=marker,
                customdata=marked["time_to_summary_s"] if column == "summary_s" else None,
                name=name,
                legendgroup=name,
                showlegend=name not in shown,
                hovertemplate=hover,
            ),
            row=row,
            col=1,
        )
        shown.add(name)


def _call_bars(fig: go.Figure, df: pd.DataFrame, row: int, shown: set[str]) -> None:
    """The outline, story bible and repair calls of one lane, a colour each."""
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
                showlegend=name not in shown,
                hovertemplate=f"{hover}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        shown.add(name)


def _scene_bars(fig: go.Figure, body: pd.DataFrame, config: str, row: int) -> None:
    """A bar a scene, coloured by its batch."""
    colours = [BATCH_COLOURS[(int(b) - 1) % len(BATCH_COLOURS)] for b in body["batch"]]
    fig.add_trace(
        go.Bar(
            y=body["scene"],
            x=body["call_s"],
            base=body["start_s"],
            orientation="h",
            marker={"color": colours, "line": {"width": 0}},
            customdata=body[["batch", "context_lag", "attempts"]]
            .assign(notes=_notes(body))
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


def _wait_bars(fig: go.Figure, body: pd.DataFrame, row: int, shown: set[str]) -> None:
    """Grey after a finished scene while its batch waits for its straggler."""
    waiting = body[body["wait_s"] > 0]
    if waiting.empty:
        return
    name = "waiting for the batch's straggler"
    fig.add_trace(
        go.Bar(
            y=waiting["scene"],
            x=waiting["wait_s"],
            base=waiting["end_s"],
            orientation="h",
            marker={"color": WAIT_COLOUR, "line": {"width": 0}},
            name=name,
            legendgroup="wait",
            showlegend=name not in shown,
            hovertemplate="scene %{y} idle %{x:.2f}s for its batch<extra></extra>",
        ),
        row=row,
        col=1,
    )
    shown.add(name)


def timeline_figure(scenes: pd.DataFrame, title: str = "Timeline of every scene") -> go.Figure:
    """A Gantt lane per configuration; colour is the batch, grey is a slot waiting for the
    batch's straggler; the outline call of plan-then-write, the story bible call and the
    repair pass's calls have a colour each (``CALLS``). A hedged scene's backup call is a
    thin bar inside its own: dark when the backup won, hollow when not. A streamed answer
    marks its first token (a tick) and its summary (a diamond) on its bar."""
    if scenes.empty:
        return empty(title, "No scene has finished yet.")
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
    shown: set[str] = set()  # each legend entry once, whatever lane it first appears in
    for row, config in enumerate(configs, start=1):
        df = scenes[scenes["config"] == config]
        body = df[df["kind"] == "scene"]
        _call_bars(fig, df, row, shown)
        _scene_bars(fig, body, config, row)
        _backup_bars(fig, body, row, shown)
        _wait_bars(fig, body, row, shown)
        _stream_marks(fig, body, row, shown)
        fig.update_yaxes(
            autorange="reversed", title_text="scene", row=row, col=1, showgrid=False, zeroline=False
        )
    fig.update_xaxes(title_text="seconds since the run started", row=n, col=1)
    fig.update_layout(barmode="overlay", bargap=0.15)
    return layout(fig, title, 90 + n * row_px)
