"""The summary table as people read it, and a comparison's tables as one JSON document."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from storygen.core.continuity import KINDS
from storygen.core.pricing import is_simulated


def _by_kind(row: pd.Series[Any]) -> str:
    """ "2 name_variant, 1 repetition" from a summary row's per-kind counts."""
    parts = [f"{int(row[f'findings_{k}'])} {k}" for k in KINDS if row[f"findings_{k}"]]
    return ", ".join(parts) or "—"


def results_json(summary: pd.DataFrame, batches: pd.DataFrame, scenes: pd.DataFrame) -> str:
    """A comparison's three tables in one JSON document, records per table."""

    def records(df: pd.DataFrame) -> object:
        return json.loads(df.to_json(orient="records"))

    tables = {"summary": records(summary), "batches": records(batches), "scenes": records(scenes)}
    return json.dumps(tables, indent=2)


def _money(value: float) -> str:
    return "n/a" if pd.isna(value) else f"${value:.4f}"


def display_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it: units in headers, "n/a" for unknown cost."""
    estimated = summary["baseline"] == "estimated"
    speedup = summary["speedup"].map(lambda x: f"{x:.2f}x")
    return pd.DataFrame(
        {
            "Configuration": summary["config"],
            "Wall time (s)": summary["wall_time_s"].round(3),
            "Speedup": speedup.where(~estimated, speedup + " (est.)"),
            "Efficiency": summary["efficiency"].round(2),
            "Mean context lag (scenes)": summary["mean_context_lag"].round(2),
            "Continuity findings": summary["findings"],
            "Findings by kind": [_by_kind(row) for _, row in summary.iterrows()],
            "Repair calls": summary["repair_calls"],
            "Measured ÷ ideal": summary["measured_over_ideal"].round(3),
            # a streamed answer's call start to its summary (empty when nothing streamed)
            "Time to summary (s)": summary["time_to_summary_s"].round(3),
            "Runaways": summary["runaways"],
            "Tokens": summary["total_tokens"],
            "Cost (USD)": [
                "n/a (simulated)" if pd.isna(cost) and is_simulated(str(model)) else _money(cost)
                for cost, model in zip(summary["cost_usd"], summary["model"], strict=True)
            ],
            "Hedges": summary["hedges"],
            "Extra calls (%)": (summary["extra_calls"] * 100).round(1),
            "429s": summary["rate_limited"],
            # what an adaptive run settled on; a fixed run's own size
            "Final concurrency": summary["final_concurrency"],
        }
    )


# Runs this much slower than their own ideal schedule were slowed by the machine, not by
# their strategy: other work on its cores (a shared demo server, a test suite).
BUSY = 1.10


def busy_note(summary: pd.DataFrame) -> str | None:
    """What to say when a comparison's runs took well over their ideal schedule: the
    machine was busy (every lane meets the same drawn latencies, but not the same load).
    None when every measured run kept to its schedule (an adaptive run has no ideal, so it
    says nothing either way).

    Which way the speedups are off depends on which run the load slowed most: a lane's
    shown speedup is its quiet one times r_baseline / r_lane, r being measured ÷ ideal (the
    baseline: the measured sequential run, else the call times summed, which load does not
    stretch: r = 1)."""
    ratios = summary["measured_over_ideal"].dropna()
    if ratios.empty or ratios.max() <= BUSY:
        return None
    worst = summary.loc[ratios.idxmax()]
    said = (
        f"This machine was busy: {worst['config']} took {ratios.max():.2f}x its ideal "
        f"schedule (above {BUSY:.2f} is the machine, not the strategy), so "
    )
    measured = summary[summary["baseline"] == "measured"]
    sequential = measured[measured["strategy"] == "sequential"]["measured_over_ideal"].dropna()
    base = float(sequential.iloc[0]) if not sequential.empty else 1.0
    lanes = summary[(summary["strategy"] != "sequential") & summary["measured_over_ideal"].notna()]
    if lanes.empty:
        said += "its times are longer than its strategy alone makes them."
    else:
        skew = base / lanes["measured_over_ideal"]
        far = (skew - 1).abs().idxmax()
        way = "overstated" if skew[far] > 1 else "understated"
        said += (
            f"the speedups shown are off by up to {abs(skew[far] - 1):.0%} "
            f"({lanes.loc[far, 'config']}'s is {way})."
        )
    return f"{said} Run the comparison again when the machine is quiet."
