"""Bulk: a CSV or JSONL of ideas in, a folder of scripts out, under one budget of calls.

Every row is checked before anything runs. The run is a child process writing into a bulk
folder of the run store, so the folder, not this page, is the truth: a reload, another tab or
a restarted app shows where each row stands, and Resume finishes what a Cancel or a crash left.
Its tables, files and checks are in ui/bulk_tables.py (tests call them without a browser).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from storygen import InvalidRequestError
from storygen.bulk.folder import BulkDir, SummaryLine
from storygen.bulk.live import pending
from storygen.bulk.rows import (
    COLUMNS,
    TEMPLATE,
    Defaults,
    Rows,
    parse_upload,
)
from storygen.core import export
from storygen.core.bounds import CONCURRENCY, DURATION_S
from storygen.core.models import STRATEGIES
from storygen.core.run_caps import RunCaps
from storygen.jobs.bulk import BulkJob, bulk_folders, create_bulk, start_bulk
from ui import state
from ui.actions import action, said
from ui.bulk_tables import (
    archive,
    check_defaults,
    check_in_flight,
    progress_frame,
    summary_csv,
    validation_frame,
    within_caps,
)
from ui.shell import ensure_shell

PARAM = "bulk"  # the page address names the bulk run shown: a reload comes back to it


# --- the page ---------------------------------------------------------------------------------


@dataclass
class Settings:
    defaults: Defaults
    max_in_flight: int
    export_format: str
    slots: dict[str, DeltaGenerator] = field(default_factory=dict)

    def problem(self, caps: RunCaps | None = None) -> InvalidRequestError | None:
        """The first bad setting, shown right below its field; None when all are good."""
        exc = check_defaults(self.defaults) or check_in_flight(self.max_in_flight)
        if exc is None and caps is not None and self.max_in_flight > caps.max_in_flight:
            exc = InvalidRequestError(
                f"this shared dashboard allows at most {caps.max_in_flight} calls in flight "
                f"(got {self.max_in_flight})",
                "max_in_flight",
            )
        if exc is not None:
            self.slots[exc.field or "duration_s"].error(str(exc))
        return exc


def _settings(caps: RunCaps | None) -> Settings:
    keep: dict[str, Any] = {"persist_state": "session"}
    slots: dict[str, DeltaGenerator] = {}
    st.subheader("Settings")
    st.caption("The values of empty cells, and what the whole run shares.")
    first = st.columns(5)
    with first[0]:
        duration = st.number_input(
            "Duration (seconds)",
            value=64,
            step=8,
            key="bulk_duration",
            help=f"{DURATION_S.low} to {DURATION_S.high} s",
            **keep,
        )
        slots["duration_s"] = st.empty()
    with first[1]:
        strategy = st.selectbox(
            "Strategy", STRATEGIES, index=STRATEGIES.index("outline"), key="bulk_strategy", **keep
        )
        slots["strategy"] = st.empty()
    with first[2]:
        concurrency = st.text_input(
            "Batch size / window",
            "10",
            key="bulk_concurrency",
            help=f"Per script: {CONCURRENCY.low} to {CONCURRENCY.high}, or 'adaptive'.",
            **keep,
        )
        slots["concurrency"] = st.empty()
    with first[3]:
        style = st.text_input("Style", "cinematic", key="bulk_style", **keep)
        slots["style"] = st.empty()
    with first[4]:
        language = st.text_input(
            "Language", "en", key="bulk_language", help="An ISO 639 code: en, es, pt-BR…", **keep
        )
        slots["language"] = st.empty()
    second = st.columns(5)
    with second[0]:
        in_flight = st.number_input(
            "Max calls in flight",
            value=50 if caps is None else min(50, caps.max_in_flight),
            step=5,
            key="bulk_max_in_flight",
            help="Across every script at once: one budget for the provider.",
            **keep,
        )
        slots["max_in_flight"] = st.empty()
    with second[1]:
        fmt = st.selectbox(
            "Export format", export.FORMATS, key="bulk_format", help="One file per script", **keep
        )
    defaults = Defaults(
        duration_s=float(duration),
        style=style.strip(),
        language=language.strip(),
        strategy=strategy,
        concurrency=concurrency.strip(),
    )
    return Settings(defaults, int(in_flight), str(fmt), slots)


def _validation(rows: Rows) -> None:
    total = len(rows.valid) + len(rows.rejected)
    st.markdown(f"**{total} rows**: {len(rows.valid)} ready to run, {len(rows.rejected)} rejected")
    st.dataframe(validation_frame(rows), hide_index=True, key="bulk_validation")
    if rows.rejected:
        listed = "\n".join(f"- row {r.row}: {r.error}" for r in rows.rejected)
        st.error(f"Rejected rows (the others still run):\n{listed}")


def _overall(done: int, total: int, scripts: str, in_flight: int | None) -> None:
    st.progress(done / total if total else 0.0, text=f"{done}/{total} scenes written")
    cols = st.columns(3)
    cols[0].metric("Scenes", f"{done}/{total}")
    cols[1].metric("Scripts", scripts)
    cols[2].metric("Calls in flight", "-" if in_flight is None else in_flight)


def _rows_table(lines: list[SummaryLine]) -> None:
    st.dataframe(
        progress_frame(lines),
        hide_index=True,
        key="bulk_rows",
        column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0)},
    )


@st.fragment(run_every=state.POLL_S)
def _live(job: BulkJob) -> None:
    if job.done:
        st.rerun()
    c = job.counts
    scripts = f"{c.scripts_done}/{c.scripts_total}" if c.scripts_total else "-"
    _overall(c.scenes_done, c.scenes_total, scripts, c.in_flight)
    _rows_table(job.bulk.summary())


def _downloads(bulk: BulkDir) -> None:
    zip_col, csv_col = st.columns(2)
    zip_col.download_button(
        "Scripts and summary (zip)",
        lambda: archive(bulk),
        file_name=f"bulk-{bulk.path.name}.zip",
        mime="application/zip",
        key="bulk_dl_zip",
        on_click="ignore",
        width="stretch",
        help=f"scripts/row-NNNN.{bulk.format}, one per finished script, and summary.csv",
    )
    csv_col.download_button(
        "summary.csv",
        lambda: summary_csv(bulk),
        file_name="summary.csv",
        mime="text/csv",
        key="bulk_dl_summary",
        on_click="ignore",
        width="stretch",
    )


def _start(bulk: BulkDir, near: DeltaGenerator) -> None:
    choice = state.backend()
    config = choice.ready(near) if state.room(near) else None
    if config is None:
        return
    with action(near):
        state.bulk_jobs()[str(bulk.path)] = start_bulk(bulk, config, max_cost=choice.max_cost)
        st.rerun()


def _cancel(job: BulkJob) -> None:
    with action("bulk_cancel"):
        job.cancel()


def _bulk_view(bulk: BulkDir) -> None:
    job = state.bulk_jobs().get(str(bulk.path))
    if job is not None and not job.done:
        st.button(
            "Cancelling…" if job.cancel_requested else "Cancel",
            key="bulk_cancel",
            icon=":material/stop_circle:",
            on_click=_cancel,
            args=(job,),
            disabled=job.cancel_requested,
            help="Stop now: finished scenes are kept and Resume finishes every script.",
        )
        said("bulk_cancel")
        _live(job)
        return
    lines = bulk.summary()
    ran = [line for line in lines if line.status != "rejected"]
    finished = sum(line.status == "finished" for line in ran)
    left = pending(bulk)
    if job is not None and job.status == "failed":
        st.error(job.error or "the bulk run failed")
    elif job is not None and job.status == "cancelled":
        kept = sum(line.scenes for line in ran)
        st.warning(f"Cancelled: {kept} scenes kept; Resume finishes every script.")
    if not left and ran:
        st.success(f"{finished} of {len(ran)} scripts finished.")
    done = sum(line.scenes for line in ran)
    total = sum(line.scenes_total for line in ran)
    _overall(done, total, f"{finished}/{len(ran)}", None)
    via = bulk.manifest.via
    if left and via != "live":  # its batches are on the provider's side: the CLI re-attaches
        st.caption(f"Written via {via}: `python -m storygen bulk resume {bulk.path}` goes on.")
    elif left:
        st.caption(f"{len(left)} scripts are not finished; their finished scenes are on disk.")
        resume = st.button("Resume", type="primary", key="bulk_resume")
        near = st.empty()
        if resume and state.backend().may_resume([bulk.run(e) for e in left], near):
            _start(bulk, near)
    _rows_table(lines)
    _downloads(bulk)


def _page() -> None:
    ensure_shell()
    st.title("Bulk: many scripts from one file")
    st.caption(
        "One script per row, all written at once under one budget of calls in flight. "
        f"Columns: {', '.join(COLUMNS)}; only idea is required."
    )
    upload, template = st.columns([4, 1], vertical_alignment="center")
    uploaded = upload.file_uploader(
        "Ideas (CSV or JSONL)", type=["csv", "jsonl", "ndjson"], key="bulk_file"
    )
    file_slot = upload.empty()
    template.download_button(
        "Template CSV",
        TEMPLATE,
        file_name="storygen-bulk-template.csv",
        mime="text/csv",
        key="bulk_template",
        on_click="ignore",
        icon=":material/download:",
        help="Three example rows: fill in your ideas, leave cells empty for the defaults.",
    )
    choice = state.backend()
    caps = state.workspace().caps
    settings = _settings(caps)
    problem = settings.problem(caps)
    rows: Rows | None = None
    if uploaded is not None:
        try:
            rows = parse_upload(uploaded.name, uploaded.getvalue(), settings.defaults)
            rows = within_caps(rows, caps)
        except InvalidRequestError as exc:
            file_slot.error(str(exc))
    if rows is not None and problem is None:
        _validation(rows)
        if planned := choice.estimate_line([row.request for row in rows.valid]):
            st.caption(planned)
    store = state.store()
    clicked = st.button(
        "Run",
        type="primary",
        disabled=rows is None or not rows.valid or problem is not None,
        key="bulk_run",
        help="Writes every valid row; rejected rows are listed in summary.csv.",
    )
    near = st.empty()
    requests = [row.request for row in rows.valid] if rows is not None else []
    if clicked and uploaded is not None and choice.within_cap(requests, near) and state.room(near):
        config = choice.ready(near)
        if config is not None and rows is not None:
            with action(near):
                bulk = create_bulk(
                    store,
                    rows,
                    config,
                    source=uploaded.name,
                    export_format=settings.export_format,
                    max_in_flight=settings.max_in_flight,
                )
                st.session_state["bulk_open"] = str(bulk.path)
                _start(bulk, near)

    folders = [str(p) for p in bulk_folders(store)]
    if not folders:
        return
    named = st.query_params.get(PARAM)  # a reload, or the address in another tab
    if named and "bulk_open" not in st.session_state:
        found = [f for f in folders if Path(f).name == named]  # only this visitor's folders
        if found:
            st.session_state["bulk_open"] = found[0]
    st.divider()
    st.subheader("Bulk runs")
    opened = st.selectbox(
        "Bulk run",
        folders,
        key="bulk_open",
        format_func=lambda p: Path(p).name,
        help=f"Folders in {store.root / 'bulk'}: manifest, scripts and summary.csv.",
    )
    if opened is not None:
        if st.query_params.get(PARAM) != Path(opened).name:
            st.query_params[PARAM] = Path(opened).name
        with action(st.empty()):  # a folder removed meanwhile: one line
            _bulk_view(BulkDir.open(Path(opened)))


if __name__ == "__main__":  # how Streamlit runs a page; tests import the helpers above
    _page()
