"""Scripts out: JSON (loads back), CSV (one row a scene, for spreadsheets), Markdown."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from storygen.core.errors import InvalidRequestError
from storygen.core.models import CSV_COLUMNS, Script

Format = Literal["json", "csv", "md"]
FORMATS: tuple[Format, ...] = ("json", "csv", "md")


def to_json(script: Script) -> str:
    return script.model_dump_json(indent=2)


def from_json(text: str) -> Script:
    return Script.model_validate_json(text)


def rows(script: Script) -> Iterator[tuple[int, str, str, str, str, str, str, str, str, str]]:
    """One row a scene in CSV_COLUMNS order (``Script.rows``)."""
    return script.rows()


def to_csv(script: Script) -> str:
    """A BOM so that Excel reads UTF-8 as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows(script))
    return "\ufeff" + buf.getvalue()


def to_markdown(script: Script) -> str:
    """A readable screenplay."""
    lines = [f"# {script.title}", ""]
    if script.outline:
        lines += [f"*{script.outline.logline}*", "", "## Characters", ""]
        lines += [
            f"- **{c.name}**, {c.role}: {c.visual_identity}" for c in script.outline.characters
        ]
        lines.append("")
    for s in script.scenes:
        lines += [
            f"## Scene {s.index}: {s.title} ({s.duration_s:g} s)",
            "",
            f"**{s.location.upper()}** | camera: {s.camera}",
            "",
            "> " + s.visual_prompt.replace("\n", "\n> "),
            "",
            s.narration,
            "",
        ]
        for d in s.dialogues:
            lines += [f"**{d.speaker.upper()}**: {d.line}", ""]
    return "\n".join(lines)


def render(script: Script, fmt: str) -> str:
    if fmt == "json":
        return to_json(script)
    if fmt == "csv":
        return to_csv(script)
    if fmt == "md":
        return to_markdown(script)
    raise InvalidRequestError(
        f"unknown export format {fmt!r} (allowed: {', '.join(FORMATS)})", "format"
    )


def write(script: Script, path: str | Path, fmt: str | None = None) -> Path:
    """Format from ``fmt`` or the file's suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower().replace("markdown", "md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(script, fmt), encoding="utf-8", newline="")
    return path
