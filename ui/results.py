"""Finished work on screen: a script (table, screenplay, timeline, continuity, downloads)
and a comparison (summary, the charts, downloads). Shared by Generate, Compare and Runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from storygen import RunDir, Scene, SceneTiming, Script, ScriptRequest
from storygen.analysis import charts, display, frames, png, report, tables
from storygen.core import export
from storygen.core.continuity import Finding, summary_line
from storygen.core.labels import Baseline, labels_for, request_label
from ui.editor import scene_editor
from ui.regenerate import regenerate_controls

CHART_TITLES = {
    "timeline": "Timeline",
    "concurrency": "Concurrency over time",
    "batch_time": "Time per batch",
    "speedup": "Speedup vs sequential",
    "tradeoff": "Speed vs context lag",
    "continuity": "Speed vs continuity findings",
}
# The script table with each scene's findings beside its title, not past the long texts.
TABLE_ORDER = [
    "scene",
    "duration_s",
    "title",
    "findings",
    *(c for c in tables.SCRIPT_COLUMNS if c not in ("scene", "duration_s", "title", "findings")),
]
KINDS_EXPLAINED = (
    "unknown_character: a name the story bible does not have · name_variant: a name spelled "
    "another way than before · look_missing: a character's look is not in the visual prompt "
    "(video models have no memory) · narration_too_long: more to say than the clip lasts · "
    "repetition: a scene nearly repeats an earlier one"
)
# The Continuity tab's columns, and room for the text that shows each finding.
FINDING_COLUMNS = {
    "scene": st.column_config.NumberColumn("Scene", width="small"),
    "kind": st.column_config.TextColumn("Kind"),
    "detail": st.column_config.TextColumn("What is wrong", width="large"),
    "evidence": st.column_config.TextColumn("Evidence", width="large"),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "script"


@dataclass(frozen=True)
class Download:
    """One download button's file: what the button offers, and the text or bytes it holds.

    ``data`` may be a function, called only when the user clicks (for costly files)."""

    label: str
    data: str | bytes | Callable[[], str | bytes]
    file_name: str
    mime: str
    key: str
    help: str | None = None

    def content(self) -> str | bytes:
        return self.data() if callable(self.data) else self.data


# The script's own files, then the hand-off files for the tools that come after storygen
# (their MIME types and suffixes are export's).
SCRIPT_LABELS = {"json": "Download JSON", "csv": "Download CSV", "md": "Download Markdown"}
HANDOFF_LABELS = {
    "srt": "Subtitles SRT",
    "vtt": "Subtitles WebVTT",
    "fountain": "Screenplay Fountain",
    "shots-csv": "Shot list CSV",
    "shots-jsonl": "Shot list JSONL",
}


def script_files(script: Script) -> list[Download]:
    """The script as JSON (it loads back), CSV (one row a scene) and a Markdown screenplay."""
    return _files(script, SCRIPT_LABELS)


def _files(script: Script, labels: Mapping[str, str]) -> list[Download]:
    """A file per format of ``labels``: named after the title, typed by export."""
    name = _slug(script.title)
    return [
        Download(
            label,
            export.render(script, fmt),
            f"{name}{export.SUFFIX[fmt]}",
            export.MEDIA[fmt],
            f"dl_{fmt.replace('-', '_')}",
        )
        for fmt, label in labels.items()
    ]


def handoff_files(script: Script) -> list[Download]:
    """Subtitles (SRT, WebVTT) timed by the clips, a Fountain screenplay, and the shot list
    for video models (CSV, JSONL)."""
    return _files(script, HANDOFF_LABELS)


def _download_button(where: DeltaGenerator, file: Download, key: str) -> None:
    where.download_button(
        file.label,
        file.data,
        file_name=file.file_name,
        mime=file.mime,
        key=key,
        on_click="ignore",
        width="stretch",
        help=file.help,
    )


def script_downloads(script: Script, *, key: str) -> None:
    """The script (JSON, CSV, Markdown), then the files for editors and video models."""
    for files in (script_files(script), handoff_files(script)):
        for col, file in zip(st.columns(len(files)), files, strict=True):
            _download_button(col, file, f"{key}_{file.key}")


def script_view(
    script: Script, *, key: str, run_id: str | None = None, run: RunDir | None = None
) -> None:
    """A finished script: headline numbers, then table / screenplay / timeline, then downloads.

    With its saved ``run`` the table is editable (Save, Undo) and scenes can be regenerated."""
    run_id = run.run_id if run is not None else run_id
    meta = script.meta
    label = request_label(script.request)
    saved = f" Saved as run `{run_id}`." if run_id else ""
    st.success(f"{len(script.scenes)} scenes in {meta.wall_time_s:.2f} s with {label}.{saved}")
    row = frames.summary_frame([script], baseline="estimated").iloc[0]
    cols = st.columns(5)
    cols[0].metric("Wall time", f"{meta.wall_time_s:.2f} s")
    cols[1].metric(
        "Speedup (est.)",
        f"{row['speedup']:.2f}x",
        help="This run's call times added up (sequential, estimated) ÷ its wall time.",
    )
    cols[2].metric("Mean context lag", f"{row['mean_context_lag']:.2f} scenes")
    cols[3].metric("Tokens", f"{row['total_tokens']:,}")
    cols[4].metric("Cost", "n/a" if pd.isna(row["cost_usd"]) else f"${row['cost_usd']:.4f}")
    _streaming_notes(script, row)
    findings = export.findings_of(script)
    # the count on the tab itself: a sixth metric would squeeze the others' values
    table, screenplay, timeline, continuity = st.tabs(
        ["Table", "Screenplay", "Timeline", f"Continuity ({len(findings)})"]
    )
    with table:
        if run is not None:
            scene_editor(run, script, findings, key=key)
            regenerate_controls(run, script, key=key)
        else:
            frame = tables.script_frame(script.scenes, findings)
            st.dataframe(frame, hide_index=True, key=f"{key}_table", column_order=TABLE_ORDER)
    with screenplay, st.container(height=520):
        st.markdown(export.to_markdown(script))
    with timeline:
        frame = frames.scenes_of([script], [label])
        st.plotly_chart(charts.timeline_figure(frame, title="Timeline"), key=f"{key}_timeline")
        limits = frames.concurrency_frame([script], [label])
        if not limits.empty:
            st.plotly_chart(charts.concurrency_figure(limits), key=f"{key}_concurrency")
    with continuity:
        _continuity_tab(script, findings, label, key=key)
    script_downloads(script, key=key)


def _streaming_notes(script: Script, row: pd.Series[Any]) -> None:
    """What streaming did, when the answers streamed or could not: time to summary (marked
    on the timeline), runaway answers cut, and why the answers did not stream."""
    parts = []
    if not pd.isna(row["time_to_summary_s"]):
        parts.append(
            f"Answers streamed: the summary was known {row['time_to_summary_s']:.2f} s after a "
            "call started, on average (the ◇ on each bar of the timeline; | is the first token)."
        )
    if script.meta.runaways:
        parts.append(f"{script.meta.runaways} runaway answers were cut and written again.")
    if parts:
        st.caption(" ".join(parts))
    if script.meta.stream_note:
        st.warning(f"Answers did not stream: {script.meta.stream_note}", icon=":material/info:")


def _continuity_tab(script: Script, findings: list[Finding], label: str, *, key: str) -> None:
    """The check's line, what a repair pass changed, and each finding with its evidence."""
    before = script.meta.findings_before
    if before is not None:
        st.caption(
            f"Before the repair pass: {sum(before.values())} findings; "
            f"{script.meta.repair_calls} repair calls."
        )
    if not findings:
        st.success("No continuity findings: names, looks, narration lengths and scenes agree.")
        return
    st.markdown(f"**{summary_line(findings)}**")
    st.caption(KINDS_EXPLAINED)
    st.dataframe(
        tables.findings_frame([script], [label]),
        hide_index=True,
        key=f"{key}_findings",
        column_order=list(FINDING_COLUMNS),
        column_config=FINDING_COLUMNS,
    )


def partial_view(
    scenes: Sequence[Scene], timings: Sequence[SceneTiming], request: ScriptRequest, *, key: str
) -> None:
    """What a failed or cancelled run kept: its finished scenes stay on screen (and on disk)."""
    if not scenes:
        st.caption("No scene was finished before the run stopped.")
        return
    label = request_label(request)
    st.markdown(f"**{len(scenes)} of {request.scene_count} scenes kept**")
    table, timeline = st.tabs(["Finished scenes", "Timeline"])
    with table:
        st.dataframe(tables.script_frame(scenes), hide_index=True, key=f"{key}_partial")
    with timeline:
        frame = frames.scene_frame(timings, label, request.strategy)
        st.plotly_chart(charts.timeline_figure(frame, title="Timeline"), key=f"{key}_ptimeline")


def run_view(run: RunDir, *, key: str) -> None:
    """A saved run as its files say: its script, or the scenes it kept so far."""
    script = run.load_script()
    if script is not None:
        script_view(script, key=key, run=run)
        return
    kept = run.load_checkpoint()
    scenes = [kept[k][0] for k in sorted(kept)]
    timings = [kept[k][1] for k in sorted(kept)]
    st.caption("Resume finishes this run; its script can then be exported.")
    partial_view(scenes, timings, run.request(), key=key)


def comparison_view(
    scripts: Sequence[Script], baseline: Baseline, request: ScriptRequest, *, key: str
) -> None:
    """The summary table and the charts (the concurrency over time under the timeline when a
    run is adaptive), with CSV/JSON/HTML (and PNG) downloads."""
    if not scripts:
        st.warning("No run finished, so there is nothing to compare.")
        return
    labels = labels_for(scripts)
    scenes = frames.scenes_of(scripts, labels)
    batches = frames.batch_frame(scenes)
    summary = frames.summary_frame(scripts, labels, baseline=baseline)
    limits = frames.concurrency_frame(scripts, labels)
    figures = charts.comparison_figures(scenes, batches, summary, limits)
    findings = tables.findings_frame(scripts, labels)
    if baseline == "estimated":
        st.info(
            "Speedups use the sequential time estimated from measured call times "
            "(the sum of each run's call times): no sequential run was measured."
        )
    if note := display.busy_note(summary):
        st.warning(note)
    st.subheader("Summary")
    st.dataframe(
        frames.display_summary(summary),
        hide_index=True,
        key=f"{key}_summary",
        column_config={
            "Wall time (s)": st.column_config.NumberColumn(format="%.3f"),
            "Efficiency": st.column_config.NumberColumn(format="%.2f"),
            "Mean context lag (scenes)": st.column_config.NumberColumn(format="%.2f"),
            "Continuity findings": st.column_config.NumberColumn(
                help="What the continuity check found in the script (names, looks, "
                "narration length, repetition). Findings by kind says which."
            ),
            "Measured ÷ ideal": st.column_config.NumberColumn(format="%.3f"),
            "Extra calls (%)": st.column_config.NumberColumn(
                format="%.1f", help="Backup calls of hedged runs, as a share of all calls."
            ),
            "429s": st.column_config.NumberColumn(help="Attempts answered 429 (rate limited)."),
            "Final concurrency": st.column_config.NumberColumn(
                help="Calls in flight an adaptive run ended with; a fixed run's own size."
            ),
            "Repair calls": st.column_config.NumberColumn(
                help="Extra calls of the repair pass: each wrote a flagged scene again."
            ),
        },
    )
    st.plotly_chart(figures["timeline"], key=f"{key}_timeline")
    if "concurrency" in figures:  # under the timeline, on the same clock
        st.plotly_chart(figures["concurrency"], key=f"{key}_concurrency")
    # what each configuration pays for its speed: context it did not see, and what that did
    lag, found = st.columns(2)
    lag.plotly_chart(figures["tradeoff"], key=f"{key}_tradeoff")
    found.plotly_chart(figures["continuity"], key=f"{key}_continuity")
    left, right = st.columns(2)
    left.plotly_chart(figures["speedup"], key=f"{key}_speedup")
    right.plotly_chart(figures["batch_time"], key=f"{key}_batch_time")
    _comparison_downloads(summary, batches, scenes, figures, request, findings, key=key)


def comparison_files(
    summary: pd.DataFrame,
    batches: pd.DataFrame,
    scenes: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    request: ScriptRequest,
    findings: pd.DataFrame | None = None,
) -> list[Download]:
    """The comparison's files: the summary and the scene timings as CSV, all three tables
    as JSON, and the standalone HTML report (built only when asked for), which closes with
    the continuity report when given the ``findings`` (``tables.findings_frame``)."""
    return [
        # text cells neutralised against CSV injection: labels and script text (OWASP)
        Download("Results CSV", export.frame_csv(summary), "comparison.csv", "text/csv", "csv"),
        Download(
            "Scene timings CSV",
            export.frame_csv(scenes),
            "comparison-scenes.csv",
            "text/csv",
            "scenes_csv",
        ),
        Download(
            "Results JSON",
            frames.results_json(summary, batches, scenes),
            "comparison.json",
            "application/json",
            "json",
        ),
        Download(
            "HTML report",
            lambda: report.comparison_report(summary, figures, request, findings=findings),
            "comparison-report.html",
            "text/html",
            "html",
            help="One standalone file with the table and every chart, for people without the app.",
        ),
    ]


def _comparison_downloads(
    summary: pd.DataFrame,
    batches: pd.DataFrame,
    scenes: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    request: ScriptRequest,
    findings: pd.DataFrame,
    *,
    key: str,
) -> None:
    st.subheader("Downloads")
    files = comparison_files(summary, batches, scenes, figures, request, findings)
    for col, file in zip(st.columns(len(files)), files, strict=True):
        _download_button(col, file, f"{key}_{file.key}")
    reason = png.png_unavailable_reason()
    if reason:
        st.caption(reason)
        return
    pick, button = st.columns([3, 1], vertical_alignment="bottom")
    name: str = pick.selectbox(
        "Chart as PNG",
        [n for n in CHART_TITLES if n in figures],
        format_func=lambda n: CHART_TITLES[n],
        key=f"{key}_png_pick",
    )
    button.download_button(
        "Download PNG",
        lambda: png.figure_png(figures[name]),
        file_name=f"{name}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
        width="stretch",
    )
