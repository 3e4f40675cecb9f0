"""`generate` and `resume`: one script, written or finished, and what the run did."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from storygen.backends.config import config_from_settings
from storygen.backends.factory import build_backend
from storygen.backends.simulated_lang import LANGS
from storygen.cli.flags import (
    Usage,
    backend_config,
    bible_choice,
    concurrency_value,
    fail_scenes_of,
    hedge_settings,
    repair_choice,
)
from storygen.cli.usage import flag_names, named_flags, request_from_flags
from storygen.core import export
from storygen.core.continuity import counts, summary_line
from storygen.core.errors import InvalidRequestError
from storygen.core.models import AdaptiveSettings, Script, request_error
from storygen.core.pricing import cost_line, current_prices, is_simulated
from storygen.core.spend import Estimate, SpendCap, check_estimate, estimate, priced, unpriced
from storygen.policies.retry import RetryPolicy
from storygen.runner.progress import LaneBar
from storygen.runner.runs import backend_from_settings, generate, resume
from storygen.store import RunDir, RunStore

# The strategies whose scene k waits for scenes 1..k-A only (``--lag-allowance`` A).
LAGGED = ("windowed", "pipelined")


def _save(
    script: Script, out: Path | None, fmt: str | None, run_path: Path | None, price_as: str
) -> None:
    if out is None and run_path is not None:
        out = run_path / f"script{export.SUFFIX[fmt or 'json']}"
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


def check_out(out: Path | None, fmt: str | None) -> None:
    """``--out`` is checked before the first call: a name refused after the run would come
    after the run had been paid for."""
    if out is None:
        return
    if out.is_dir():
        raise Usage(f"--out {out} is a folder: name a file, e.g. {out / 'script.json'}")
    try:
        export.format_of(out, fmt)
    except InvalidRequestError as exc:
        raise Usage(f"--out: {exc}") from None


def language_note(language: str, config_kind: str, where: str = "--language") -> str | None:
    """What the simulated backend does with a language it has no words for: it writes
    English (a real model is told the code and writes that language)."""
    if config_kind != "simulated" or language.split("-")[0] in LANGS:
        return None
    return (
        f"note: the simulated backend writes {', '.join(LANGS)} only: {where} {language} is "
        "written in English; a real model is asked for that language"
    )


def open_run(path: Path) -> RunDir:
    """A run directory whose request and backend can be read back, or one line saying
    which file is not: never a traceback from deep inside a resume."""
    run_dir = RunStore().open(path)
    for name, read in (
        ("request.json", run_dir.request),
        ("backend.json", partial(_backend_of, run_dir)),
    ):
        try:
            read()
        except (OSError, ValueError, TypeError) as exc:  # missing, not JSON, not the model
            raise Usage(
                f"{run_dir.path / name} cannot be read ({_why(exc)}): this run cannot be continued"
            ) from None
    return run_dir


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, ValidationError):
        return str(request_error(exc)).removeprefix("invalid request: ")
    if isinstance(exc, TypeError):
        return "not a JSON object"
    return str(exc)


def _backend_of(run_dir: RunDir) -> None:
    settings = run_dir.backend_settings()
    if "kind" not in settings:  # {}: resuming would pick a backend the run never used
        raise ValueError('it names no backend ("kind": "simulated" or "openai")')
    config_from_settings(settings)


def spend_guard(
    args: argparse.Namespace, model: str, planned: Callable[[], Estimate], across: str = ""
) -> SpendCap | None:
    """Before a run on a priced model, its estimated cost (``planned``, computed only then;
    ``across``: what the line adds, as bulk's "across N scripts"); over ``--max-cost``,
    refused before any call. A simulated run is free: its cost is said after the run."""
    if priced(model):
        estimated = planned()
        print(estimated.line(model) + across)
        check_estimate(estimated, args.max_cost)
    elif args.max_cost is not None and not is_simulated(model):
        raise Usage(f"--max-cost: {unpriced(model)}")
    return None if args.max_cost is None else SpendCap(args.max_cost, model)


def cmd_generate(args: argparse.Namespace) -> int:
    current_prices()  # a broken STORYGEN_PRICES file is bad input: say so before any call
    if args.lag_allowance is not None and args.strategy not in LAGGED:
        raise Usage(
            f"--lag-allowance applies to the {' and '.join(LAGGED)} strategies only "
            f"(not {args.strategy})"
        )
    check_out(args.out, args.format)
    config = backend_config(args)
    with named_flags(args):
        RetryPolicy(attempts=args.attempts)  # checked before a backend is built
    backend = build_backend(config)
    request = request_from_flags(
        args,
        idea=args.idea,
        duration_s=args.duration,
        strategy=args.strategy,
        concurrency=concurrency_value(
            args.concurrency, backend, args.max_concurrency, flag_names(args)["concurrency"]
        ),
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
    if note := language_note(request.language, config.kind):
        print(note, file=sys.stderr)
    policy = RetryPolicy(attempts=args.attempts).scaled(getattr(backend, "time_scale", 1.0))
    spend = spend_guard(args, backend.model, lambda: estimate(request, backend.model))
    run_dir = RunStore(args.runs_dir).create(request, backend.settings())
    bar = LaneBar(file=sys.stderr, disable=args.no_progress)
    try:
        script = generate(
            request, backend, policy=policy, subscribers=[bar], run_dir=run_dir, spend=spend
        )
    finally:
        bar.close()
    _written(script, 0)
    summary(script)
    repair_summary(script)
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    check_out(args.out, args.format)
    run_dir = open_run(args.run_dir)
    already = len(run_dir.load_checkpoint())
    finished = run_dir.finished_script()
    if finished is not None:
        print(f"nothing to do: {run_dir.path} is finished ({len(finished.scenes)} scenes)")
        if args.out is not None:
            _save(finished, args.out, args.format, None, args.price_as)
        return 0
    backend = backend_from_settings(run_dir.backend_settings())
    plan_done = run_dir.load_outline() is not None or run_dir.load_bible() is not None
    left = partial(estimate, run_dir.request(), backend.model, done=already, plan_done=plan_done)
    spend = spend_guard(args, backend.model, left)
    bar = LaneBar(file=sys.stderr, disable=args.no_progress)
    try:
        script = resume(run_dir, backend, subscribers=[bar], spend=spend)
    finally:
        bar.close()
    _written(script, already)
    repair_summary(script)
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0
