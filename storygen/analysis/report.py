"""A standalone HTML report of a comparison, for people who will never open the app.

One file, plotly.js inlined once, so it opens offline and can be mailed as it is. It closes
with the continuity report: every finding of every configuration, with its evidence.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go

from storygen.analysis.charts import ESTIMATED_NOTE
from storygen.analysis.frames import display_summary
from storygen.core.continuity import Finding, summary_line
from storygen.core.models import ScriptRequest

_STYLE = """
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1200px; color: #1f2933; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .sub { color: #52606d; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 0.4rem 0.8rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { background: #fff8e1; border-left: 4px solid #f0b429; padding: 0.5rem 1rem; }
.chart { margin: 1.5rem 0; }
details { margin: 0.4rem 0; } li { margin: 0.3rem 0; } q { color: #52606d; }
"""


def _continuity(configs: list[str], findings: pd.DataFrame) -> list[str]:
    """Per configuration, its findings line, and each finding with its evidence below."""
    parts = ["<h2>Continuity</h2>"]
    for config in configs:
        rows = findings[findings["config"] == config]
        found = [Finding.model_validate(r) for r in rows.drop(columns="config").to_dict("records")]
        line = html.escape(f"{config}: {summary_line(found).removeprefix('continuity: ')}")
        if not found:
            parts.append(f"<p>{line}</p>")
            continue
        items = "".join(
            f"<li><b>Scene {f.scene}</b> · {html.escape(f.kind)}: {html.escape(f.detail)}"
            f"<br><q>{html.escape(f.evidence)}</q></li>"
            for f in found
        )
        parts.append(f"<details><summary>{line}</summary><ul>{items}</ul></details>")
    return parts


def comparison_report(
    summary: pd.DataFrame,
    figures: Mapping[str, go.Figure],
    request: ScriptRequest,
    *,
    title: str = "storygen: batch sizes compared",
    findings: pd.DataFrame | None = None,
) -> str:
    """The summary table, every chart and, given ``findings`` (``tables.findings_frame``),
    the continuity report, in one self-contained HTML page."""
    estimated = bool((summary["baseline"] == "estimated").any())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">{html.escape(request.idea)} · {request.duration_s:g} s video, '
        f"{request.scene_count} scenes · seed {request.seed} · generated {stamp}</p>",
    ]
    if estimated:
        parts.append(f'<p class="note">Speedups use the {ESTIMATED_NOTE}.</p>')
    parts.append(display_summary(summary).to_html(index=False, border=0, na_rep="n/a", escape=True))
    for i, (name, fig) in enumerate(figures.items()):
        chart = fig.to_html(
            full_html=False,
            include_plotlyjs=i == 0,  # inline once: the file works offline
            div_id=f"chart-{html.escape(name)}",
            config={"displaylogo": False, "responsive": True},
        )
        parts.append(f'<div class="chart">{chart}</div>')
    if findings is not None:
        parts += _continuity(list(summary["config"]), findings)
    parts.append("</body></html>")
    return "\n".join(parts)
