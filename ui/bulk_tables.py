"""The Bulk page's tables, files and checks: no widgets, so they are tested on their own."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd

from storygen import InvalidRequestError
from storygen.bulk.folder import BulkDir, SummaryLine
from storygen.bulk.rows import Defaults, Rejected, Row, Rows, request_for
from storygen.core.bounds import IN_FLIGHT
from storygen.core.labels import request_label
from storygen.core.run_caps import RunCaps

VALIDATION_COLUMNS = ["row", "idea", "strategy", "duration (s)", "scenes", "check"]
PROGRESS_COLUMNS = ["row", "idea", "status", "scenes", "progress", "wall time (s)", "error"]
OK = "OK"


def validation_frame(rows: Rows) -> pd.DataFrame:
    """One line per row, in file order: what it will run, or why it will not."""
    lines: list[dict[str, Any]] = [
        {
            "row": r.row,
            "idea": r.request.idea,
            "strategy": request_label(r.request),
            "duration (s)": r.request.duration_s,
            "scenes": r.request.scene_count,
            "check": OK,
        }
        for r in rows.valid
    ]
    lines += [
        {"row": r.row, "idea": r.idea, "strategy": None, "duration (s)": None, "scenes": None}
        | {"check": r.error}
        for r in rows.rejected
    ]
    lines.sort(key=lambda line: int(line["row"]))
    return pd.DataFrame(lines, columns=VALIDATION_COLUMNS).astype({"scenes": "Int64"})


def progress_frame(lines: list[SummaryLine]) -> pd.DataFrame:
    """Per row, from the run store: its status and scenes written so far."""
    return pd.DataFrame(
        [
            {
                "row": line.row,
                "idea": line.idea,
                "status": line.status,
                "scenes": f"{line.scenes}/{line.scenes_total}" if line.scenes_total else "",
                "progress": line.scenes / line.scenes_total if line.scenes_total else None,
                "wall time (s)": line.wall_time_s,
                "error": line.error,
            }
            for line in lines
        ],
        columns=PROGRESS_COLUMNS,
    )


def archive(bulk: BulkDir) -> bytes:
    """A zip of every exported script (scripts/row-NNNN.<format>) and a fresh summary.csv."""
    bulk.write_summary()  # from the run store: right even after a crash
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((bulk.path / "scripts").glob(f"row-*.{bulk.format}")):
            zf.write(path, f"scripts/{path.name}")
        zf.write(bulk.path / "summary.csv", "summary.csv")
    return out.getvalue()


def summary_csv(bulk: BulkDir) -> bytes:
    bulk.write_summary()
    return (bulk.path / "summary.csv").read_bytes()


def check_in_flight(value: int) -> InvalidRequestError | None:
    if value not in IN_FLIGHT:
        return InvalidRequestError(
            f"max calls in flight: {IN_FLIGHT.low} to {IN_FLIGHT.high} (got {value})",
            "max_in_flight",
        )
    return None


def within_caps(rows: Rows, caps: RunCaps | None) -> Rows:
    """A shared deployment's caps as one more check of each row: a row over them is rejected
    with the reason, the others still run."""
    if caps is None:
        return rows
    valid: list[Row] = []
    rejected = list(rows.rejected)
    for row in rows.valid:
        try:
            caps.check(row.request)
        except InvalidRequestError as exc:
            rejected.append(Rejected(row.row, str(exc), row.request.idea))
        else:
            valid.append(row)
    return Rows(valid, rejected)


def check_defaults(defaults: Defaults) -> InvalidRequestError | None:
    """A bad value for empty cells, named by its field (before it rejects every row)."""
    try:
        request_for({"idea": "a check of the defaults"}, defaults)
    except InvalidRequestError as exc:
        return exc
    return None
