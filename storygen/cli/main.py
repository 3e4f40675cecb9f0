"""python -m storygen: generate, resume, bench, bulk. Bad input exits 2 with one clear line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from storygen.backends.config import BackendConfig
from storygen.cli import bulk as cli_bulk
from storygen.cli.flags import (
    Help,
    Parser,
    Usage,
    add_backend_flags,
    add_hedge_flags,
    add_price_as,
    add_sim_server_flags,
    backend_config,
    check_sim_server_flags,
    concurrency_value,
    fail_scenes_of,
    hedge_settings,
    int_list,
)
from storygen.core import export
from storygen.core.errors import InvalidRequestError, RunFailedError, StoryGenError
from storygen.core.models import STRATEGIES, AdaptiveSettings, HedgeSettings, Script, ScriptRequest
from storygen.core.pricing import cost_line, current_prices
from storygen.policies.retry import RetryPolicy
from storygen.runner.bench import rows_as_dicts, run_bench
from storygen.runner.progress import LaneBar
from storygen.runner.runs import generate, resume
from storygen.store import RunStore


def _parser() -> argparse.ArgumentParser:
    root = Parser(prog="python -m storygen", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True, parser_class=Parser)

    gen = sub.add_parser("generate", help="write one script", formatter_class=Help)
    gen.add_argument("--idea", required=True, help="what the video is about, one sentence")
    gen.add_argument(
        "--duration", type=float, required=True, help="video length, 8-7200 s (8 s a scene)"
    )
    gen.add_argument("--strategy", choices=STRATEGIES, default="batched", help="scheduling")
    gen.add_argument(
        "--batch-size",
        "--window",
        "--concurrency",
        dest="concurrency",
        default="5",
        help="batch size (batched) or window (windowed, outline), 1-100; "
        "'auto' = keys x per-key concurrency; 'adaptive' finds it at run time",
    )
    gen.add_argument(
        "--max-concurrency",
        type=int,
        default=32,
        help="with --batch-size adaptive: the most calls in flight",
    )
    add_hedge_flags(gen)
    gen.add_argument(
        "--lag-allowance",
        type=int,
        default=None,
        help="windowed: scene k waits for 1..k-A (default 2 x window)",
    )
    gen.add_argument("--style", default="cinematic", help="visual style")
    gen.add_argument("--language", default="en", help="en, es, fr or de (simulated)")
    gen.add_argument("--seconds-per-scene", type=float, default=8.0, help="clip length")
    gen.add_argument(
        "--context-scenes", type=int, default=5, help="previous summaries quoted in a prompt"
    )
    gen.add_argument("--seed", type=int, default=0, help="same seed, same simulated latencies")
    gen.add_argument(
        "--out", type=Path, default=None, help="where to write the script (default: the run dir)"
    )
    gen.add_argument(
        "--format", choices=export.FORMATS, default=None, help="default: from --out's suffix"
    )
    gen.add_argument("--runs-dir", type=Path, default=Path("runs"), help="the run store")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_price_as(gen)
    add_backend_flags(gen)

    res = sub.add_parser("resume", help="finish a failed or interrupted run", formatter_class=Help)
    res.add_argument("run_dir", type=Path)
    res.add_argument("--out", type=Path, default=None)
    res.add_argument("--format", choices=export.FORMATS, default=None)
    res.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_price_as(res)

    bench = sub.add_parser(
        "bench", help="compare strategies on the same latencies", formatter_class=Help
    )
    bench.add_argument("--idea", default="A lighthouse keeper finds a map to a drowned city")
    bench.add_argument("--duration", type=float, default=600)
    bench.add_argument("--batch-sizes", default="3,5,10")
    bench.add_argument("--strategies", default="sequential,batched,windowed,outline")
    bench.add_argument("--time-scale", type=float, default=0.0125)
    bench.add_argument("--repeat", type=int, default=1)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", type=Path, default=None)
    bench.add_argument("--csv", type=Path, default=None)
    bench.add_argument("--hedge", action="store_true", help="hedge hung calls in every run")
    bench.add_argument("--hang-rate", type=float, default=0.0, help="share of calls that hang")
    bench.add_argument(
        "--hang-factor", type=float, default=30.0, help="a hung call takes this x the median"
    )
    bench.add_argument(
        "--capacity", type=int, default=None, help="the simulated server's slots (queue beyond)"
    )
    sim = sub.add_parser(
        "serve-sim", help="an OpenAI-compatible simulator on 127.0.0.1", formatter_class=Help
    )
    sim.add_argument("--port", type=int, default=8000)
    sim.add_argument("--time-scale", type=float, default=1.0)
    sim.add_argument("--rpm", type=int, default=None, help="answer 429 + Retry-After above this")
    sim.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    sim.add_argument("--malformed-rate", type=float, default=0.0, help="share of broken JSON")
    sim.add_argument("--slow-rate", type=float, default=0.0, help="share of very slow answers")
    sim.add_argument("--slow-seconds", type=float, default=30.0)
    add_sim_server_flags(sim)
    sim.add_argument(
        "--api-key",
        action="append",
        default=None,
        help="accept only this key (repeatable); default: any non-empty key",
    )
    sim.add_argument(
        "--structured",
        choices=["json_schema", "json_object", "none", "refuse-500"],
        default="json_schema",
        help="which response_format the server pretends to support; refuse-500 answers "
        "json_schema with llama-cpp-python's HTTP 500",
    )
    sim.add_argument(
        "--context-tokens",
        type=int,
        default=None,
        help="refuse a prompt plus max_tokens above this with OpenAI's context-length 400",
    )
    sim.add_argument(
        "--batch-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="Batch API: real seconds from creating a batch to its completion "
        "(not scaled by --time-scale; 0-86400)",
    )
    sim.add_argument(
        "--batch-fail-rate",
        type=float,
        default=0.0,
        help="Batch API: share of lines answered with a 500 in the error file (0-1)",
    )
    sim.add_argument(
        "--batch-expire-rate",
        type=float,
        default=0.0,
        help="Batch API: share of lines never run; the batch ends 'expired' (0-1)",
    )
    sim.add_argument(
        "--max-tokens-limit",
        type=int,
        default=None,
        help="refuse a larger max_tokens with OpenAI's 'supports at most' 400",
    )
    cli_bulk.add_parsers(sub)
    return root


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


def _summary(script: Script) -> None:
    """What the tail and the limits did, when there is something to say."""
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
    if parts:
        print("; ".join(parts))


def _cmd_generate(args: argparse.Namespace) -> int:
    current_prices()  # a broken STORYGEN_PRICES file is bad input: say so before any call
    config = backend_config(args)
    backend = config.build()
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
    )
    if fail := fail_scenes_of(args, request.scene_count):
        backend = config.build(fail)
    policy = RetryPolicy(attempts=args.attempts).scaled(getattr(backend, "time_scale", 1.0))
    run_dir = RunStore(args.runs_dir).create(request, backend.settings())
    bar = LaneBar(file=sys.stderr, disable=args.no_progress)
    try:
        script = generate(request, backend, policy=policy, subscribers=[bar], run_dir=run_dir)
    finally:
        bar.close()
    _written(script, 0)
    _summary(script)
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
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
    _save(script, args.out, args.format, run_dir.path, args.price_as)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    sizes = int_list(args.batch_sizes, "--batch-sizes")
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise Usage(f"--strategies: unknown {unknown} (allowed: {', '.join(STRATEGIES)})")
    if not 1 <= args.repeat <= 20:
        raise Usage(f"--repeat must be between 1 and 20 (got {args.repeat})")
    for size in sizes:
        if not 1 <= size <= 100:
            raise Usage(f"--batch-sizes: each size must be between 1 and 100 (got {size})")
    base = ScriptRequest.build(
        idea=args.idea,
        duration_s=args.duration,
        seed=args.seed,
        hedge=HedgeSettings() if args.hedge else None,
    )
    world = BackendConfig.build_config(  # validates the flags before a long run
        time_scale=args.time_scale,
        hang_rate=args.hang_rate,
        hang_factor=args.hang_factor,
        capacity=args.capacity,
    )

    def progress(name: str, size: int, r: int, script: Script) -> None:
        print(
            f"  run {r + 1}: {name:<10} {size:>3}  {script.meta.wall_time_s:7.3f} s",
            file=sys.stderr,
        )

    rows = rows_as_dicts(
        run_bench(
            base,
            names,  # type: ignore[arg-type]
            sizes,
            time_scale=args.time_scale,
            repeat=args.repeat,
            on_result=progress,
            make_backend=world.build,
        )
    )
    import pandas as pd

    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.csv, index=False)
    return 0


def _cmd_serve_sim(args: argparse.Namespace) -> int:
    from storygen.backends.simulated import HANG_FACTOR
    from storygen.sim.server import SimServerConfig, serve

    for name in (
        "error_rate",
        "malformed_rate",
        "slow_rate",
        "batch_fail_rate",
        "batch_expire_rate",
    ):
        if not 0 <= getattr(args, name) <= 1:
            raise Usage(f"--{name.replace('_', '-')} must be between 0 and 1")
    if not 0 <= args.time_scale <= 100:
        raise Usage(f"--time-scale must be between 0 and 100 (got {args.time_scale})")
    if args.rpm is not None and args.rpm < 1:
        raise Usage(f"--rpm must be at least 1 (got {args.rpm})")
    for flag, value in (
        ("--context-tokens", args.context_tokens),
        ("--max-tokens-limit", args.max_tokens_limit),
    ):
        if value is not None and value < 16:
            raise Usage(f"{flag} must be at least 16 (got {value})")
    if not 0 <= args.batch_delay <= 86_400:
        raise Usage(f"--batch-delay must be between 0 and 86400 (got {args.batch_delay})")
    if not 1 <= args.port <= 65535:
        raise Usage(f"--port must be between 1 and 65535 (got {args.port})")
    check_sim_server_flags(args)
    config = SimServerConfig(
        time_scale=args.time_scale,
        rpm=args.rpm,
        error_rate=args.error_rate,
        malformed_rate=args.malformed_rate,
        slow_rate=args.slow_rate,
        slow_s=args.slow_seconds,
        hang_rate=args.hang_rate or 0.0,
        hang_factor=args.hang_factor or HANG_FACTOR,
        capacity=args.capacity,
        api_keys=frozenset(args.api_key) if args.api_key else None,
        structured=args.structured,
        context_tokens=args.context_tokens,
        max_tokens_limit=args.max_tokens_limit,
        batch_delay_s=args.batch_delay,
        batch_fail_rate=args.batch_fail_rate,
        batch_expire_rate=args.batch_expire_rate,
    )
    print(f"serve-sim on http://127.0.0.1:{args.port}/v1 (models: {', '.join(config.models)})")
    serve(config, port=args.port)
    return 0


COMMANDS = {
    "generate": _cmd_generate,
    "resume": _cmd_resume,
    "bench": _cmd_bench,
    "serve-sim": _cmd_serve_sim,
    **cli_bulk.COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(cli_bulk.route(list(sys.argv[1:] if argv is None else argv)))
    try:
        return COMMANDS[args.command](args)
    except (InvalidRequestError, Usage) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.run_dir:
            print(
                "finished scenes are saved; continue with: "
                f"python -m storygen resume {exc.run_dir}",
                file=sys.stderr,
            )
        return 1
    except StoryGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder that cannot be written, a port already taken
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: finished scenes are saved; resume the run to finish", file=sys.stderr)
        return 130
