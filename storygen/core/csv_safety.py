"""CSV cells from untrusted text, neutralised against CSV injection (OWASP).

A spreadsheet runs a cell that starts with "=", "+", "-", "@", a tab or a carriage return
as a formula: ``=HYPERLINK("http://x", "y")`` in a model's narration becomes a live link in
whoever opens the export. We follow OWASP's advice (the "CSV Injection" page of the OWASP
community wiki): prepend a single quote to such a cell, so the spreadsheet reads it as text,
and quote every cell that holds a separator or a quote (the csv module does that part).
Only text is touched: a number stays a number, so -0.5 in a numeric column is still -0.5.
Tables keep the raw text (``Script.rows``, the DataFrames); only the CSV writers neutralise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # so that Excel reads UTF-8 as UTF-8


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula it would run."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_value(value: object) -> object:
    """A text cell neutralised; any other value (a number, None) as it is."""
    return safe_cell(value) if isinstance(value, str) else value


def csv_text(
    header: Sequence[str],
    rows: Iterable[Iterable[object]],
    *,
    bom: bool = True,
    lineterminator: str = "\r\n",
) -> str:
    """A CSV file's text, every text cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=lineterminator)
    writer.writerow(header)
    writer.writerows([safe_value(v) for v in row] for row in rows)
    return (BOM if bom else "") + buf.getvalue()


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised; numeric columns untouched."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    text = [c for c in frame.columns if is_object_dtype(frame[c]) or is_string_dtype(frame[c])]
    out = frame.copy()
    for column in text:
        out[column] = frame[column].map(safe_value)
    return out


def frame_csv(frame: pd.DataFrame) -> str:
    """``frame.to_csv(index=False)``, text cells neutralised: the app's and notebooks' CSVs."""
    return safe_frame(frame).to_csv(index=False)
