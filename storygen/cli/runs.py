"""`generate` and `resume`: one script, written or finished, and what the run did."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storygen.backends.factory import build_backend
from storygen.cli.flags import (
    Usage,
    backend_config,
    bible_choice,
    concurrency_value,
    fail_scenes_of,
    hedge_settings,
    repair_choice,
)
from storygen.core import export
from storygen.core.continuity import counts, summary_line
from storygen.core.models import AdaptiveSettings, Script, ScriptRequest
from storygen.core.pricing import cost_line, current_prices
from storygen.policies.retry import RetryPolicy
from storygen.runner.progress import LaneBar
from storygen.runner.runs import generate, resume
from storygen.store import RunStore

# The strategies whose scene k waits for scenes 1..k-A only (``--lag-allowance`` A).
LAGGED = ("windowed", "pipelined")


def _save(
    script: Script, out: Path | None, fmt: str | None, run_path: Path | None, price_as: str
) -> None:
    if out is None and run_path is not None:
        out = run_path / f"script.{fmt or 'json'}"
    if out is not None:
        export.write(script, out, fmt)
        print(f"script: {out}")
    if run_path is not None:
        print(f"run directory: {run_path}")
    meta = script.meta
    cost = cost_line(meta.model, meta.prompt_tokens, meta.completion_tokens, price_as)
    print(f"tokens: {meta.prompt_tokens} prompt, {meta.completion_tokens} completion; {cost}")


def _written(script: Script, already: int) -> None:
    meta = script.meta
    limit = f"adaptive up to {meta.concurrency}" if script.request.adaptive else meta.concurrency
    how = f"{meta.strategy}, concurrency {limit}"
    if already:
        wrote = len(script.scenes) - already
        print(
            f"wrote {wrote} missing scenes in {meta.wall_time_s:.2f} s ({how}; "
            f"{already} were already done); {len(script.scenes)} in the script"
        )
    else:
        print(f"{len(script.scenes)} scenes in {meta.wall_time_s:.2f} s ({how})")


def summary(script: Script) -> None:
    """What the tail and the limits did, when there is something to say; then, always, what
    the continuity check found."""
    meta = script.meta
    parts = []
    if script.request.adaptive is not None:
        peak = max((limit for _, limit in meta.concurrency_trace), default=meta.concurrency)
        parts.append(f"concurrency adaptive: ended at {meta.final_concurrency} (peak {peak})")
    if meta.hedges:
        calls = sum(t.hedged for t in meta.timeline)
        extra = f"with {meta.hedges} backups, " if meta.hedges != calls else ""
        plural = "s" if calls != 1 else ""
        parts.append(
            f"{calls} hung call{plural} hedged ({extra}{meta.extra_calls:.1%} extra calls)"
        )
    if meta.rate_limited:
        parts.append(f"{meta.rate_limited} calls answered 429")
    parts += _streamed(script)
    if parts:
        print("; ".join(parts))
    if meta.plateau is not None and meta.plateau < meta.concurrency:
        print(f"this server did not get faster beyond {meta.plateau} calls in flight")
    if meta.stream_note:
        print(f"answers did not stream: {meta.stream_note}")
    print(summary_line(script.findings))


def _streamed(script: Script) -> list[str]:
    """Time to summary (as the summary table's) over the scenes as first written that
    streamed, and runaway answers cut."""
    meta = script.meta
    parts = []
    if (mean := meta.mean_time_to_summary_s) is not None:
        streamed = meta.streamed_scenes
        parts.append(f"time to summary: {mean:.2f} s on average ({streamed} scenes streamed)")
    if meta.runaways:
        plural = "s" if meta.runaways != 1 else ""
        parts.append(f"{meta.runaways} runaway answer{plural} cut and retried")
    return parts


def _findings(by_kind: dict[str, int]) -> str:
    """ "3 findings (2 name_variant, 1 repetition)", as ``summary_line`` words a list."""
    total = sum(by_kind.values())
    if not total:
        return "no findings"
    parts = ", ".join(f"{n} {kind}" for kind, n in by_kind.items() if n)
    return f"{total} finding{'s' if total != 1 else ''} ({parts})"


def repair_summary(script: Script) -> None:
    """What the repair pass did, when it ran."""
    meta = script.meta
    if meta.findings_before is None:
        return
    plural = "s" if meta.repair_calls != 1 else ""
    print(
        f"repaired {meta.repaired_scenes} of {meta.flagged_scenes} flagged scenes "
        f"({meta.repair_calls} extra call{plural}); continuity before: "
        f"{_findings(meta.findings_before)}, after: {_findings(counts(script.findings))}"
    )


def cmd_generate(args: argparse.Namespace) -> int:
    current_prices()  # a broken STORYGEN_PRICES file is bad input: say so before any call
    if args.lag_allowance is not None and args.strategy not in LAGGED:
        raise Usage(
            f"--lag-allowance applies to the {' and '.join(LAGGED)} strategies only "
            f"(not {args.strategy})"
        )
    config = backend_config(args)
    backend = build_backend(config)
    request = ScriptRequest.build(
        idea=args.idea,
        duration_s=args.duration,
        strategy=args.strategy,
        concurrency=concurrency_value(args.concurrency, backend, args.max_concurrency),
        lag_allowance=args.lag_allowance,
        style=args.style,
        language=args.language,
        seconds_per_scene=args.seconds_per_scene,
        context_scenes=args.context_scenes,
        seed=args.seed,
        hedge=hedge_settings(args),
        adaptive=AdaptiveSettings() if args.concurrency == "adaptive" else None,
        **bible_choice(args),
        **repair_choice(args),
    )
    if fail := fail_scenes_of(args, request.scene_count):
        backend = build_backend(config, fail)
    policy = RetryPolicy(attempts=args.attempts).scaled(getattr(backend, "time_scale", 1.0))
    run_dir = RunStore(args.runs_dir).create(request, backend.settings())
    bar = LaneBar(file=sys.stderr, disable=args.no_progress)
    try:
        script = generate(request, backend, policy=policy, subscribers=[bar], run_dir=run_dir)
    finally:
        bar.close()
    _written(script, 0)
    summary(script)
    repair_summary(script)
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    run_dir = RunStore().open(args.run_dir)
    already = len(run_dir.load_checkpoint())
    finished = run_dir.finished_script()
    if finished is not None:
        print(f"nothing to do: {run_dir.path} is finished ({len(finished.scenes)} scenes)")
        if args.out is not None:
            _save(finished, args.out, args.format, None, args.price_as)
        return 0
    bar = LaneBar(file=sys.stderr, disable=args.no_progress)
    try:
        script = resume(run_dir, subscribers=[bar])
    finally:
        bar.close()
    _written(script, already)
    repair_summary(script)
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0
