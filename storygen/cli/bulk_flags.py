"""The flags of `bulk`, `bulk resume DIR` and `bulk status DIR`, read without loading the
bulk machinery (``cli.bulk``), which runs only when a bulk command does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from storygen.bulk.rows import COLUMNS
from storygen.cli.flags import Help, add_backend_flags, add_hedge_flags, add_price_as, usd
from storygen.cli.usage import Spelled
from storygen.core import export
from storygen.core.bounds import CONCURRENCY, DURATION_S
from storygen.core.models import STRATEGIES

SUBCOMMANDS = ("resume", "status")


def add_parsers(sub: Any) -> None:
    bulk = sub.add_parser(
        "bulk",
        help="many scripts from a CSV or JSONL file under one budget "
        "(also: bulk resume DIR, bulk status DIR)",
        formatter_class=Help,
        description="One script per row; columns: " + ", ".join(COLUMNS) + ". Flags give "
        "the values of empty cells. Continue a stopped run with `bulk resume DIR`; see "
        "where it is with `bulk status DIR`.",
    )
    bulk.add_argument("file", type=Path, help="ideas.csv or ideas.jsonl, one script per row")
    bulk.add_argument("--out-dir", type=Path, required=True, help="manifest, scripts, summary")
    bulk.add_argument(
        "--max-in-flight", type=int, default=50, help="calls in flight across all scripts"
    )
    bulk.add_argument(
        "--scripts-at-once",
        type=int,
        default=None,
        help="scripts in progress at once, at most (default: 500); each holds its written "
        "scenes in memory until it is done",
    )
    bulk.add_argument("--format", choices=export.FORMATS, default="json", help="each export")
    bulk.add_argument("--runs-dir", type=Path, default=Path("runs"), help="the run store")
    bulk.add_argument("--no-progress", action="store_true", help="no progress bar")
    via = bulk.add_argument_group("the provider's Batch API (about half the price, within 24 h)")
    via.add_argument(
        "--via",
        choices=["live", "batch-api"],
        default="live",
        help="live calls, or rounds of Batch API jobs (outline and batched strategies only; "
        "needs --backend openai)",
    )
    via.add_argument(
        "--fallback",
        choices=["none", "live"],
        default="none",
        help="batch-api: lines that fail are retried in the next round (none), or written "
        "through the live API after the rounds (live)",
    )
    via.add_argument(
        "--batch-attempts", type=int, default=3, help="batch-api: rounds a call may fail in"
    )
    via.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="batch-api: seconds before the first status check; it grows to 60",
    )
    cells = bulk.add_argument_group("values for empty cells")
    cells.add_argument(
        "--duration",
        type=float,
        default=64.0,
        help=f"video length, {DURATION_S.low}-{DURATION_S.high} s",
    )
    cells.add_argument("--strategy", choices=STRATEGIES, default="outline", help="scheduling")
    cells.add_argument(
        "--batch-size",
        "--window",
        "--concurrency",
        dest="concurrency",
        action=Spelled,
        default="10",
        help="batch size or window per script, "
        f"{CONCURRENCY.low}-{CONCURRENCY.high}, or 'adaptive'",
    )
    cells.add_argument(
        "--max-concurrency", type=int, default=32, help="the most an adaptive script reaches"
    )
    cells.add_argument("--style", default="cinematic", help="visual style")
    cells.add_argument(
        "--language",
        default="en",
        help="an ISO 639 code; the simulated backend writes en, es, fr and de, any other in "
        "English",
    )
    cells.add_argument(
        "--seed",
        type=int,
        default=None,
        help="one seed for every row (default: the row's number, so each script draws its "
        "own simulated latencies)",
    )
    add_hedge_flags(bulk)
    add_price_as(bulk)  # --max-cost: one total across every row
    add_backend_flags(bulk)

    res = sub.add_parser("bulk-resume", help=argparse.SUPPRESS, formatter_class=Help)
    res.prog = "python -m storygen bulk resume"
    res.add_argument("out_dir", type=Path, help="the --out-dir of the bulk run")
    res.add_argument(
        "--max-in-flight", type=int, default=None, help="default: as the run was started"
    )
    res.add_argument("--no-progress", action="store_true", help="no progress bar")
    res.add_argument(
        "--max-cost",
        type=usd,
        default=None,
        metavar="USD",
        help="a spend cap on this command's calls across the rows left (live runs on a priced "
        "model): estimated over it, refused before any call; spent, the rows left start no "
        "calls and stay interrupted (default: no cap)",
    )
    res.add_argument(
        "--poll-interval", type=float, default=None, help="batch-api: default as started"
    )

    status = sub.add_parser("bulk-status", help=argparse.SUPPRESS, formatter_class=Help)
    status.prog = "python -m storygen bulk status"
    status.add_argument("out_dir", type=Path, help="the --out-dir of the bulk run")


def route(argv: list[str]) -> list[str]:
    """``bulk resume DIR`` reads as the hidden command ``bulk-resume DIR``."""
    if len(argv) >= 2 and argv[0] == "bulk" and argv[1] in SUBCOMMANDS:
        return [f"bulk-{argv[1]}", *argv[2:]]
    return argv
