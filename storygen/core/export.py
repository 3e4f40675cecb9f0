"""Scripts out: JSON (loads back), CSV (one row a scene, for spreadsheets), Markdown, and
the hand-off formats: SRT and WebVTT subtitles, a Fountain screenplay, a shot list (CSV or
JSONL) for video models.

JSON carries ``Script.findings`` (the continuity check the run ended with); Markdown closes
with a continuity appendix, so whoever reads only the screenplay sees them too. Every CSV
cell of text is neutralised against CSV injection (``core.csv_safety``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from storygen.core.continuity import Finding, summary_line
from storygen.core.csv_safety import csv_text, frame_csv, safe_cell
from storygen.core.errors import InvalidRequestError
from storygen.core.models import CSV_COLUMNS, Script
from storygen.core.screenplay import to_fountain
from storygen.core.shot_list import to_shots_csv, to_shots_jsonl
from storygen.core.subtitles import to_srt, to_vtt

__all__ = [
    "FORMATS",
    "MEDIA",
    "SUFFIX",
    "Format",
    "findings_of",
    "format_of",
    "frame_csv",
    "from_json",
    "render",
    "rows",
    "safe_cell",
    "to_csv",
    "to_fountain",
    "to_json",
    "to_markdown",
    "to_shots_csv",
    "to_shots_jsonl",
    "to_srt",
    "to_vtt",
    "write",
]

Format = Literal["json", "csv", "md", "srt", "vtt", "fountain", "shots-csv", "shots-jsonl"]
FORMATS: tuple[Format, ...] = (
    "json",
    "csv",
    "md",
    "srt",
    "vtt",
    "fountain",
    "shots-csv",
    "shots-jsonl",
)
# The file suffix of each format, as offered for download; ``write`` reads them back.
SUFFIX: dict[str, str] = {
    "json": ".json",
    "csv": ".csv",
    "md": ".md",
    "srt": ".srt",
    "vtt": ".vtt",
    "fountain": ".fountain",
    "shots-csv": ".shots.csv",
    "shots-jsonl": ".shots.jsonl",
}
# The MIME type of each format's download. SRT and JSONL have no registered type: these
# are the ones players and tools commonly send and accept.
MEDIA: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv",
    "md": "text/markdown",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "fountain": "text/plain",
    "shots-csv": "text/csv",
    "shots-jsonl": "application/jsonl",
}
# The suffixes ``write`` knows, longest first: "x.shots.csv" is a shot list, "x.csv" the
# script; any ".jsonl" is the JSONL shot list (the script's JSON is one document, ".json").
_BY_SUFFIX: tuple[tuple[str, Format], ...] = (
    (".shots.csv", "shots-csv"),
    (".jsonl", "shots-jsonl"),
    (".json", "json"),
    (".csv", "csv"),
    (".md", "md"),
    (".markdown", "md"),
    (".srt", "srt"),
    (".vtt", "vtt"),
    (".fountain", "fountain"),
)


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
    """A BOM so that Excel reads UTF-8 as UTF-8; text cells neutralised (``Script.rows``
    stays raw: it feeds the DataFrame)."""
    return csv_text(CSV_COLUMNS, rows(script))


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


_RENDER: dict[str, Callable[[Script], str]] = {
    "json": to_json,
    "csv": to_csv,
    "md": to_markdown,
    "srt": to_srt,
    "vtt": to_vtt,
    "fountain": to_fountain,
    "shots-csv": to_shots_csv,
    "shots-jsonl": to_shots_jsonl,
}


def _unknown(what: str) -> InvalidRequestError:
    in_order = sorted(_BY_SUFFIX, key=lambda pair: FORMATS.index(pair[1]))
    suffixes = ", ".join(suffix for suffix, _ in in_order)
    return InvalidRequestError(
        f"unknown export format {what} (allowed: {', '.join(FORMATS)}; by file suffix: {suffixes})",
        "format",
    )


def render(script: Script, fmt: str) -> str:
    """``script`` in format ``fmt`` (one of FORMATS)."""
    if fmt not in _RENDER:
        raise _unknown(repr(fmt))
    return _RENDER[fmt](script)


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The format ``write`` uses: ``fmt`` when given, else the one the file's suffix names.
    Callers check an output path with it before any call is paid for."""
    if fmt is not None:
        if fmt not in _RENDER:
            raise _unknown(repr(fmt))
        return fmt
    name = Path(path).name.lower()
    for suffix, found in _BY_SUFFIX:
        if name.endswith(suffix) and len(name) > len(suffix):
            return found
    given = Path(path).suffix.lstrip(".").lower()
    raise _unknown(f"{given!r} for {Path(path).name}" if given else f"(no suffix) for {path}")


def write(script: Script, path: str | Path, fmt: str | None = None) -> Path:
    """Format from ``fmt`` or the file's suffix; nothing is written for an unknown one."""
    path = Path(path)
    text = render(script, format_of(path, fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path
