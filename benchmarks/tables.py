"""The one way a benchmark prints its rows: a Markdown table, as the README quotes it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from benchmarks import OUT


def print_table(rows: list[dict[str, Any]]) -> None:
    """Every key of any row is a column, in first-seen order; a missing cell is blank."""
    if not rows:
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


def seeded_main(
    table: Callable[[range, float, int], list[dict[str, Any]]], name: str, scenes: int
) -> None:
    """The command line of a bench that builds one table over seeds: print it, and keep it
    as benchmarks/out/<name>.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.0125)
    parser.add_argument("--scenes", type=int, default=scenes)
    args = parser.parse_args()
    rows = table(range(args.seeds), args.time_scale, args.scenes)
    print_table(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(rows, indent=2))
