"""python -m storygen bulk FILE | bulk resume DIR | bulk status DIR."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from storygen.backends.batch_client import BatchClient
from storygen.backends.openai_compat import OpenAIBackend
from storygen.bulk.batch_api import Polling, RoundReport, forgive, run_via_batch_api
from storygen.bulk.folder import MANIFEST, BulkDir
from storygen.bulk.live import BulkProgress, BulkResult, pending, run_bulk
from storygen.bulk.rounds import check_batchable
from storygen.bulk.rows import COLUMNS, Defaults, Rejected, Rows, read_rows
from storygen.cli.flags import (
    Help,
    Usage,
    add_backend_flags,
    add_hedge_flags,
    add_price_as,
    backend_config,
    hedge_settings,
)
from storygen.core import export
from storygen.core.errors import InvalidRequestError
from storygen.core.models import STRATEGIES
from storygen.core.pricing import current_prices
from storygen.policies.retry import RetryPolicy
from storygen.store import RunStore

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
    cells.add_argument("--duration", type=float, default=64.0, help="video length, 8-7200 s")
    cells.add_argument("--strategy", choices=STRATEGIES, default="outline", help="scheduling")
    cells.add_argument(
        "--batch-size",
        "--window",
        "--concurrency",
        dest="concurrency",
        default="10",
        help="batch size or window per script, 1-100, or 'adaptive'",
    )
    cells.add_argument(
        "--max-concurrency", type=int, default=32, help="the most an adaptive script reaches"
    )
    cells.add_argument("--style", default="cinematic", help="visual style")
    cells.add_argument("--language", default="en", help="an ISO 639 code")
    cells.add_argument(
        "--seed",
        type=int,
        default=None,
        help="one seed for every row (default: the row's number, so each script draws its "
        "own simulated latencies)",
    )
    add_hedge_flags(bulk)
    add_price_as(bulk)
    add_backend_flags(bulk)

    res = sub.add_parser("bulk-resume", help=argparse.SUPPRESS, formatter_class=Help)
    res.prog = "python -m storygen bulk resume"
    res.add_argument("out_dir", type=Path, help="the --out-dir of the bulk run")
    res.add_argument(
        "--max-in-flight", type=int, default=None, help="default: as the run was started"
    )
    res.add_argument("--no-progress", action="store_true", help="no progress bar")
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


def _check_in_flight(value: int | None, flag: str = "--max-in-flight") -> None:
    if value is not None and not 1 <= value <= 10_000:
        raise Usage(f"{flag} must be between 1 and 10000 (got {value})")


class _Bar:
    """One bar for the scenes of every script, made once the totals are known."""

    def __init__(self, progress: BulkProgress, disable: bool) -> None:
        self.bar: Any = None
        self.disable = disable
        progress.listeners.append(self.show)

    def show(self, p: BulkProgress) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=p.scenes_total,
                initial=p.scenes_done,
                unit="scene",
                mininterval=0.2,
                file=sys.stderr,
                disable=self.disable,
            )
        bar = self.bar
        bar.n = p.scenes_done
        done = f"{p.scripts_done}/{p.scripts_total}"
        bar.set_postfix_str(f"scripts {done}, in flight {p.in_flight}", refresh=False)
        bar.update(0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batchable(rows: Rows) -> Rows:
    valid, rejected = [], list(rows.rejected)
    for row in rows.valid:
        try:
            check_batchable(row.request)
            valid.append(row)
        except InvalidRequestError as exc:
            rejected.append(Rejected(row.row, str(exc), row.request.idea))
    return Rows(valid, sorted(rejected, key=lambda r: r.row))


def _run_batches(bulk: BulkDir, args: argparse.Namespace, max_in_flight: int) -> int:
    config = bulk.backend_config()
    backend = config.build()
    assert isinstance(backend, OpenAIBackend)
    manifest = bulk.manifest
    fallback = manifest.get("fallback") == "live"
    poll = getattr(args, "poll_interval", None) or float(manifest.get("poll_interval", 5.0))

    def said(r: RoundReport) -> None:
        print(f"round {r.round}: job {r.batch_id} {r.status}: {r.ok} answers, {r.failed} failed")

    client = BatchClient(config)
    try:
        forgive(bulk)
        run_via_batch_api(
            bulk,
            backend,
            client,
            attempts=1 if fallback else int(manifest.get("batch_attempts", 3)),
            polling=Polling(first_s=poll),
            on_round=said,
        )
    finally:
        client.close()
    if fallback and pending(bulk):
        left = forgive(bulk)
        print(f"{len(left)} scripts are finished through the live API (--fallback live)")
        return _run(bulk, args, max_in_flight, scripts_at_once=manifest.get("scripts_at_once"))
    return _report(bulk, BulkResult(bulk.write_summary()))


def _run(bulk: BulkDir, args: argparse.Namespace, max_in_flight: int, **kw: Any) -> int:
    backend = bulk.backend_config().build()
    attempts = int(bulk.manifest.get("attempts", 4))
    policy = RetryPolicy(attempts=attempts).scaled(getattr(backend, "time_scale", 1.0))
    progress = BulkProgress()
    bar = _Bar(progress, args.no_progress)
    try:
        result = run_bulk(
            bulk, backend, max_in_flight=max_in_flight, policy=policy, progress=progress, **kw
        )
    except KeyboardInterrupt:
        bar.close()  # before the message, so the bar's last line does not swallow it
        print(
            f"\ninterrupted: finished scenes are saved; continue with: "
            f"python -m storygen bulk resume {bulk.path}",
            file=sys.stderr,
        )
        return 130
    finally:
        bar.close()
    return _report(bulk, result)


def _report(bulk: BulkDir, result: BulkResult) -> int:
    finished = [line for line in result.lines if line.status == "finished"]
    print(
        f"{len(finished)} scripts finished, {len(result.failed)} not finished, "
        f"{len(result.rejected)} rows rejected"
    )
    print(f"scripts: {bulk.path / 'scripts'}")
    print(f"summary: {bulk.path / 'summary.csv'}")
    for line in result.failed:
        print(f"error: row {line.row}: {line.error or line.status}", file=sys.stderr)
    if result.failed:
        print(
            f"finished scenes are saved; continue with: python -m storygen bulk resume {bulk.path}",
            file=sys.stderr,
        )
        return 1
    return 2 if result.rejected else 0


def cmd_bulk(args: argparse.Namespace) -> int:
    current_prices()
    _check_in_flight(args.max_in_flight)
    _check_in_flight(args.scripts_at_once, "--scripts-at-once")
    if args.fail_scenes:
        raise Usage("--fail-scenes applies to generate only, not bulk")
    if args.via == "batch-api":
        if args.backend != "openai":
            raise Usage(
                "--via batch-api needs --backend openai: the Batch API is the provider's "
                "(serve-sim has one for trying it: python -m storygen serve-sim)"
            )
        if not 1 <= args.batch_attempts <= 10:
            raise Usage(f"--batch-attempts must be between 1 and 10 (got {args.batch_attempts})")
        if not 0.01 <= args.poll_interval <= 3600:
            raise Usage(f"--poll-interval must be between 0.01 and 3600 (got {args.poll_interval})")
    config = backend_config(args)
    if not args.file.is_file():
        raise Usage(f"{args.file}: no such file (expected a CSV or JSONL file of ideas)")
    defaults = Defaults(
        duration_s=args.duration,
        style=args.style,
        language=args.language,
        strategy=args.strategy,
        concurrency=args.concurrency,
        seed=args.seed,
        max_concurrency=args.max_concurrency,
        hedge=hedge_settings(args),
    )
    if (args.out_dir / MANIFEST).exists():  # before any row is read or run
        raise Usage(
            f"{args.out_dir} already holds a bulk run: continue it with "
            f"`python -m storygen bulk resume {args.out_dir}`, or choose another --out-dir"
        )
    rows = read_rows(args.file, defaults)
    if args.via == "batch-api":
        rows = _batchable(rows)
    for bad in rows.rejected:
        print(f"error: row {bad.row}: {bad.error}", file=sys.stderr)
    if not rows.valid:
        print(f"error: no valid rows in {args.file}; nothing was started", file=sys.stderr)
        return 2
    backend = config.build()
    bulk = BulkDir.create(
        args.out_dir,
        source=str(args.file),
        valid=rows.valid,
        rejected=rows.rejected,
        store=RunStore(args.runs_dir),
        backend_settings=backend.settings(),
        options={
            "format": args.format,
            "max_in_flight": args.max_in_flight,
            "scripts_at_once": args.scripts_at_once,
            "attempts": args.attempts,
            "price_as": args.price_as,
            "via": args.via,
            "fallback": args.fallback,
            "batch_attempts": args.batch_attempts,
            "poll_interval": args.poll_interval,
        },
    )
    print(f"{len(rows.valid)} scripts to write ({len(rows.rejected)} rows rejected) in {bulk.path}")
    if args.via == "batch-api":
        return _run_batches(bulk, args, args.max_in_flight)
    return _run(bulk, args, args.max_in_flight, scripts_at_once=args.scripts_at_once)


def cmd_bulk_resume(args: argparse.Namespace) -> int:
    _check_in_flight(args.max_in_flight)
    bulk = BulkDir.open(args.out_dir)
    if not bulk.entries:
        print(f"nothing to do: {bulk.path} has no valid rows")
        return 2 if bulk.rejected else 0
    if not pending(bulk):
        print(f"nothing to do: every script in {bulk.path} is finished")
        bulk.write_summary()
        return 2 if bulk.rejected else 0
    max_in_flight = args.max_in_flight or int(bulk.manifest.get("max_in_flight", 50))
    if bulk.manifest.get("via") == "batch-api":
        return _run_batches(bulk, args, max_in_flight)
    return _run(bulk, args, max_in_flight, scripts_at_once=bulk.manifest.get("scripts_at_once"))


def cmd_bulk_status(args: argparse.Namespace) -> int:
    bulk = BulkDir.open(args.out_dir)
    lines = bulk.summary()
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    done = sum(line.scenes for line in lines)
    total = sum(line.scenes_total for line in lines)
    print(f"{bulk.path}: {len(lines)} rows, via {bulk.manifest.get('via', 'live')}")
    print("  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    print(f"  scenes written: {done} of {total}")
    for line in lines:
        if line.status not in ("finished", "rejected"):
            print(f"  row {line.row}: {line.status}, {line.scenes}/{line.scenes_total} scenes")
    for record in bulk.manifest.get("batches", []):
        read = ""
        if record.get("state") == "read":
            read = f": {record.get('ok', 0)} answers, {record.get('failed', 0)} failed"
        job = record.get("batch_id") or "(not created yet)"
        state = record.get("status") or record.get("state")
        calls = len(record["calls"])
        print(f"  round {record['round']}: job {job}, {calls} calls, {state}{read}")
    return 0


COMMANDS = {"bulk": cmd_bulk, "bulk-resume": cmd_bulk_resume, "bulk-status": cmd_bulk_status}
