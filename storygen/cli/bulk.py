"""python -m storygen bulk FILE | bulk resume DIR | bulk status DIR: the commands' bodies."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm.auto import tqdm

from storygen.backends.factory import build_backend
from storygen.bulk.batch_api_plan import check_batchable
from storygen.bulk.folder import MANIFEST, BulkDir, SummaryLine
from storygen.bulk.live import BulkProgress, BulkResult, pending, run_bulk
from storygen.bulk.rows import Defaults, Rejected, Rows, read_rows, request_for
from storygen.cli.flags import Usage, backend_config, hedge_settings
from storygen.cli.runs import language_note, spend_guard
from storygen.cli.usage import named_flags
from storygen.core.bounds import IN_FLIGHT
from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest
from storygen.core.pricing import current_prices
from storygen.core.spend import Estimate, SpendCap, estimate
from storygen.policies.retry import RetryPolicy
from storygen.store import RunStore


def counted(n: int, thing: str) -> str:
    """ "1 script", "2 scripts"."""
    return f"{n} {thing}{'s' if n != 1 else ''}"


def _check_in_flight(value: int | None, flag: str = "--max-in-flight") -> None:
    if value is not None and value not in IN_FLIGHT:
        raise Usage(f"{flag} must be between {IN_FLIGHT.low} and {IN_FLIGHT.high} (got {value})")


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
    # The Batch API needs the openai SDK; a live bulk run on the simulated backend does not.
    from storygen.backends.batch_api_client import BatchClient
    from storygen.backends.openai_compat import OpenAIBackend
    from storygen.bulk.batch_api import Polling, RoundReport, forgive, run_via_batch_api

    config = bulk.backend_config()
    backend = build_backend(config)
    assert isinstance(backend, OpenAIBackend)
    manifest = bulk.manifest
    fallback = manifest.fallback == "live"
    poll = getattr(args, "poll_interval", None) or manifest.poll_interval

    def said(r: RoundReport) -> None:
        print(f"round {r.round}: job {r.batch_id} {r.status}: {r.ok} answers, {r.failed} failed")

    client = BatchClient(config)
    try:
        forgive(bulk)
        run_via_batch_api(
            bulk,
            backend,
            client,
            attempts=1 if fallback else manifest.batch_attempts,
            polling=Polling(first_s=poll),
            on_round=said,
        )
    finally:
        client.close()
    if fallback and pending(bulk):
        left = forgive(bulk)
        print(f"{counted(len(left), 'script')} to finish through the live API (--fallback live)")
        return _run(bulk, args, max_in_flight, scripts_at_once=manifest.scripts_at_once)
    return _report(bulk, BulkResult(bulk.write_summary()))


NOT_BATCH = "--max-cost applies to live bulk runs, not --via batch-api"


def _spend_guard(
    args: argparse.Namespace, model: str, left: list[tuple[ScriptRequest, int, bool]], via: str
) -> SpendCap | None:
    """Before any call of a live bulk run on a priced model, the estimate of every row left
    (``(request, scenes done, plan done)``), together; over ``--max-cost``, refused. The cap
    is one total across the rows."""
    if via == "batch-api":
        if args.max_cost is not None:
            raise Usage(NOT_BATCH)
        return None

    def planned() -> Estimate:
        return Estimate.total([estimate(r, model, done=d, plan_done=p) for r, d, p in left])

    return spend_guard(args, model, planned, f", across {counted(len(left), 'script')}")


def _left(bulk: BulkDir) -> list[tuple[ScriptRequest, int, bool]]:
    """The rows not finished yet: each one's request, scenes done and whether its plan is."""
    found = []
    for entry in pending(bulk):
        run_dir = bulk.run(entry)
        plan = run_dir.load_outline() is not None or run_dir.load_bible() is not None
        found.append((run_dir.request(), len(run_dir.load_checkpoint()), plan))
    return found


def _run(bulk: BulkDir, args: argparse.Namespace, max_in_flight: int, **kw: Any) -> int:
    backend = build_backend(bulk.backend_config())
    attempts = bulk.manifest.attempts
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
        f"{counted(len(finished), 'script')} finished, {len(result.failed)} not finished, "
        f"{counted(len(result.rejected), 'row')} rejected"
    )
    print(f"scripts: {bulk.path / 'scripts'}")
    print(f"summary: {bulk.path / 'summary.csv'}")
    if said := _cost(result.lines, bulk.manifest.price_as):
        print(said)
    for line in result.failed:
        print(f"error: row {line.row}: {line.error or line.status}", file=sys.stderr)
    if result.failed:
        print(
            f"finished scenes are saved; continue with: python -m storygen bulk resume {bulk.path}",
            file=sys.stderr,
        )
        return 1
    return 2 if result.rejected else 0


def _cost(lines: list[SummaryLine], price_as: str) -> str | None:
    """The run's cost in the words `generate` uses; a simulated run's is n/a, and what its
    tokens would cost is summary.csv's would_cost_usd."""
    would = [line.would_cost_usd for line in lines if line.would_cost_usd is not None]
    cost = [line.cost_usd for line in lines if line.cost_usd is not None]
    if would:
        return (
            f"cost n/a (simulated); on {price_as} these tokens would cost ${sum(would):.4f} "
            "(would_cost_usd in summary.csv)"
        )
    return f"estimated cost ${sum(cost):.4f}" if cost else None


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
        if args.max_cost is not None:
            raise Usage(NOT_BATCH)
        if not 1 <= args.batch_attempts <= 10:
            raise Usage(f"--batch-attempts must be between 1 and 10 (got {args.batch_attempts})")
        if not 0.01 <= args.poll_interval <= 3600:
            raise Usage(f"--poll-interval must be between 0.01 and 3600 (got {args.poll_interval})")
    config = backend_config(args)
    with named_flags(args):
        RetryPolicy(attempts=args.attempts)
    if args.file.is_dir():
        raise Usage(f"{args.file} is a folder: give the CSV or JSONL file of ideas in it")
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
    with named_flags(args):  # a bad flag is the flag's fault, not every row's
        request_for({"idea": "the flags alone"}, defaults)
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
    _language_notes(rows, config.kind)
    if not rows.valid:
        print(f"error: no valid rows in {args.file}; nothing was started", file=sys.stderr)
        return 2
    backend = build_backend(config)
    left = [(row.request, 0, False) for row in rows.valid]
    spend = _spend_guard(args, backend.model, left, args.via)
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
    print(
        f"{counted(len(rows.valid), 'script')} to write "
        f"({counted(len(rows.rejected), 'row')} rejected) in {bulk.path}"
    )
    if args.via == "batch-api":
        return _run_batches(bulk, args, args.max_in_flight)
    return _run(bulk, args, args.max_in_flight, scripts_at_once=args.scripts_at_once, spend=spend)


def _language_notes(found: Rows, kind: str) -> None:
    """One note per language the simulated backend would write in English."""
    by_language: dict[str, list[int]] = {}
    for row in found.valid:
        by_language.setdefault(row.request.language, []).append(row.row)
    for language, numbers in by_language.items():
        where = f"row{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers[:5]))}"
        more = " …" if len(numbers) > 5 else ""
        if note := language_note(language, kind, f"{where}{more}: language"):
            print(note, file=sys.stderr)


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
    max_in_flight = args.max_in_flight or bulk.manifest.max_in_flight
    model = str(bulk.run(bulk.entries[0]).backend_settings().get("model", ""))
    spend = _spend_guard(args, model, _left(bulk), bulk.manifest.via)
    if bulk.manifest.via == "batch-api":
        return _run_batches(bulk, args, max_in_flight)
    at_once = bulk.manifest.scripts_at_once
    return _run(bulk, args, max_in_flight, scripts_at_once=at_once, spend=spend)


def cmd_bulk_status(args: argparse.Namespace) -> int:
    bulk = BulkDir.open(args.out_dir)
    lines = bulk.summary()
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    done = sum(line.scenes for line in lines)
    total = sum(line.scenes_total for line in lines)
    print(f"{bulk.path}: {len(lines)} rows, via {bulk.manifest.via}")
    print("  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    print(f"  scenes written: {done} of {total}")
    for line in lines:
        if line.status not in ("finished", "rejected"):
            print(f"  row {line.row}: {line.status}, {line.scenes}/{line.scenes_total} scenes")
    for record in bulk.manifest.batches:
        read = ""
        if record.get("state") == "read":
            read = f": {record.get('ok', 0)} answers, {record.get('failed', 0)} failed"
        job = record.get("batch_id") or "(not created yet)"
        state = record.get("status") or record.get("state")
        calls = len(record["calls"])
        print(f"  round {record['round']}: job {job}, {calls} calls, {state}{read}")
    return 0
