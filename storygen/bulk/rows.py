"""A spreadsheet of ideas in: each row checked on its own, so one typo never stops the rest.

CSV rows are numbered as a spreadsheet shows them (the header is row 1, the first idea
row 2); JSONL rows by their line. A rejected row names its number and what is wrong; a
header that is wrong (no idea column, an unknown or doubled one) refuses the whole file,
since it is wrong for every row.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storygen.core.bounds import CONCURRENCY
from storygen.core.errors import InvalidRequestError
from storygen.core.models import AdaptiveSettings, HedgeSettings, ScriptRequest, request_error

COLUMNS: tuple[str, ...] = (
    "idea",
    "duration_s",
    "style",
    "language",
    "strategy",
    "concurrency",
    "seed",
)
TEMPLATE = (
    "idea,duration_s,style,language,strategy,concurrency,seed\n"
    "A lighthouse keeper befriends a storm,120,cinematic,en,outline,25,1\n"
    "Una abuela enseña a su nieta a hacer pan,64,warm documentary,es,,,\n"
    "A robot learns to paint at night,,,,windowed,10,\n"
)
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Defaults:
    """What a row without a value gets (the command's flags)."""

    duration_s: float = 64.0
    style: str = "cinematic"
    language: str = "en"
    strategy: str = "outline"
    concurrency: str = "10"  # a whole number, or "adaptive"
    seed: int | None = None  # None: the row's number, so scripts draw different latencies
    max_concurrency: int = 32  # the most an adaptive row may reach
    hedge: HedgeSettings | None = None


@dataclass(frozen=True)
class Row:
    row: int
    request: ScriptRequest


@dataclass(frozen=True)
class Rejected:
    row: int
    error: str
    idea: str = ""  # as given, so the summary can say which idea it was


@dataclass(frozen=True)
class Rows:
    valid: list[Row]
    rejected: list[Rejected]


def _number(name: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InvalidRequestError(f"{name}: expected {what} (got {text!r})", name) from None


def request_for(values: Mapping[str, Any], defaults: Defaults, row: int = 0) -> ScriptRequest:
    """One row's request: its own values, the defaults for the cells left empty."""
    given = {k: v for k, v in values.items() if v is not None and str(v).strip() != ""}
    cells = {k: str(v).strip() if isinstance(v, str) else v for k, v in given.items()}
    if "idea" not in cells:
        raise InvalidRequestError(
            "idea: missing (every row needs one, 1 to 2000 characters)", "idea"
        )
    concurrency = str(cells.get("concurrency", defaults.concurrency)).strip()
    adaptive = concurrency == "adaptive"
    fields: dict[str, Any] = {
        "idea": cells.get("idea", ""),
        "duration_s": defaults.duration_s,
        "style": cells.get("style", defaults.style),
        "language": cells.get("language", defaults.language),
        "strategy": cells.get("strategy", defaults.strategy),
        "seed": row if defaults.seed is None else defaults.seed,
        "hedge": defaults.hedge,
        "adaptive": AdaptiveSettings() if adaptive else None,
    }
    for name, kind in (("duration_s", float), ("seed", int)):
        if name in cells:
            value = cells[name]
            fields[name] = _number(name, value, kind) if isinstance(value, str) else value
    if adaptive:
        fields["concurrency"] = defaults.max_concurrency
    elif isinstance(concurrency, str) and not concurrency.lstrip("-").isdigit():
        raise InvalidRequestError(
            f"concurrency: expected a whole number {CONCURRENCY.low}-{CONCURRENCY.high} "
            f"or 'adaptive' "
            f"(got {concurrency!r})",
            "concurrency",
        )
    else:
        fields["concurrency"] = int(concurrency)
    if fields["strategy"] == "sequential":
        fields["adaptive"] = None
    try:
        return ScriptRequest(**fields)
    except ValidationError as exc:
        raise request_error(exc) from None


def _header_problem(names: list[str], row: int) -> str | None:
    """What is wrong with a CSV header, if anything: said of the header, not of a row."""
    allowed = ", ".join(COLUMNS)
    named = [n for n in names if n]
    if "idea" not in named:
        found = ", ".join(repr(n) for n in named[:6]) or "nothing"
        near = difflib.get_close_matches("idea", named, n=1)
        hint = f" ({near[0]!r} for 'idea'?)" if near else ""
        return (
            f"the header (row {row}) has no 'idea' column; it names {found}{hint}. The first "
            f"line names the columns: {allowed} (only idea is needed)"
        )
    for name in named:
        if name not in COLUMNS:
            near = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            return (
                f"the header (row {row}) names an unknown column {name!r}{hint}; allowed: {allowed}"
            )
        if named.count(name) > 1:
            return f"the header (row {row}) names the column {name!r} twice"
    return None


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    reader = csv.reader(io.StringIO(text))
    header, first = next(reader, None), 1
    while header is not None and not any(h.strip() for h in header):
        header, first = next(reader, None), first + 1  # blank lines above the header
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    if problem := _header_problem(names, first):
        raise InvalidRequestError(problem, "columns")
    for line, cells in enumerate(reader, start=first + 1):
        if not any(c.strip() for c in cells):
            continue  # a blank line in a spreadsheet export
        if len(cells) > len(names):
            extra = [c for c in cells[len(names) :] if c.strip()]
            if extra:
                yield line, {}, [f"{len(cells)} cells but the header names {len(names)}"]
                continue
        record = dict(zip(names, cells, strict=False))
        yield line, record, []


def _jsonl_records(text: str) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, {}, [f"not valid JSON ({exc.msg} at column {exc.colno})"]
            continue
        if not isinstance(record, dict):
            yield line, {}, ['expected a JSON object like {"idea": "..."}']
            continue
        yield line, record, []


def parse_rows(text: str, kind: str, defaults: Defaults | None = None) -> Rows:
    """Check every row; ``kind`` is "csv" or "jsonl"."""
    defaults = defaults or Defaults()
    if kind not in ("csv", "jsonl"):
        raise InvalidRequestError(f"unknown input kind {kind!r} (allowed: csv, jsonl)", "kind")
    records = _csv_records(text) if kind == "csv" else _jsonl_records(text)
    valid: list[Row] = []
    rejected: list[Rejected] = []
    allowed = ", ".join(COLUMNS)
    for line, record, problems in records:
        if len(valid) + len(rejected) >= MAX_ROWS:
            raise InvalidRequestError(f"more than {MAX_ROWS} rows: split the file", "rows")
        unknown = [k for k, v in record.items() if k not in COLUMNS and str(v or "").strip()]
        if unknown:
            problems.append(f"unknown column {unknown[0]!r} (allowed: {allowed})")
        if not problems:
            try:
                valid.append(Row(line, request_for(record, defaults, line)))
                continue
            except InvalidRequestError as exc:
                problems.append(str(exc).removeprefix("invalid request: "))
        idea = str(record.get("idea") or "").strip()[:200]
        rejected.append(Rejected(line, "; ".join(problems), idea))
    if not valid and not rejected:
        raise InvalidRequestError("no rows: the file has no ideas (see the template)", "rows")
    return Rows(valid, rejected)


def kind_of(name: str) -> str:
    """ "jsonl" for .jsonl/.ndjson, "csv" for anything else."""
    return "jsonl" if Path(name).suffix.lower() in (".jsonl", ".ndjson") else "csv"


def _not_utf8(name: str | Path) -> InvalidRequestError:
    return InvalidRequestError(f"{name}: not UTF-8 text (save it as CSV UTF-8)", "file")


def parse_upload(name: str, data: bytes, defaults: Defaults | None = None) -> Rows:
    """An uploaded file's bytes (the app's Bulk page), told apart by its name's suffix."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(name) from None
    return parse_rows(text, kind_of(name), defaults)


def read_rows(path: Path, defaults: Defaults | None = None) -> Rows:
    """A CSV or JSONL file, told apart by its suffix (.jsonl/.ndjson or anything else: CSV)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    return parse_rows(text, kind_of(path.name), defaults)
