"""Scripts out: JSON (loads back), CSV (one row a scene, for spreadsheets), Markdown.

JSON carries ``Script.findings`` (the continuity check the run ended with); Markdown closes
with a continuity appendix, so whoever reads only the screenplay sees them too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from storygen.core.continuity import Finding, summary_line
from storygen.core.errors import InvalidRequestError
from storygen.core.models import CSV_COLUMNS, Script

Format = Literal["json", "csv", "md"]
FORMATS: tuple[Format, ...] = ("json", "csv", "md")


def findings_of(script: Script) -> list[Finding]:
    """The continuity findings to show for ``script``: those its run recorded, or, for a
    script saved before runs recorded them (or made by hand), the check run now. An empty
    list read from a file is a clean run, not a missing check."""
    if "findings" in script.model_fields_set:
        return list(script.findings)
    return script.check()


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


def _continuity_appendix(findings: list[Finding]) -> list[str]:
    """Each finding under its scene, with the text that shows it quoted below."""
    lines = ["## Continuity", "", summary_line(findings), ""]
    for f in findings:
        lines += [f"- **Scene {f.scene}** · {f.kind}: {f.detail}"]
        lines += ["  > " + f.evidence.replace("\n", "\n  > ")] if f.evidence else []
    return [*lines, ""] if findings else lines


def to_markdown(script: Script) -> str:
    """A readable screenplay, then its continuity appendix."""
    lines = [f"# {script.title}", ""]
    if script.outline:
        lines += [f"*{script.outline.logline}*", ""]
    # the cast every scene was told: the outline's, or the bible call's
    cast = script.outline or script.bible
    if cast is not None:
        lines += ["## Characters", ""]
        lines += [f"- **{c.name}**, {c.role}: {c.visual_identity}" for c in cast.characters]
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
    lines += _continuity_appendix(findings_of(script))
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
