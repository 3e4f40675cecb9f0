"""`serve-sim`: the OpenAI-compatible simulator, its flags checked before it binds a port.

Only this command loads the web stack (fastapi, uvicorn).
"""

from __future__ import annotations

import argparse

from storygen.backends.simulated import HANG_FACTOR
from storygen.cli.flags import Usage, check_sim_server_flags
from storygen.core.bounds import BATCH_DELAY_S, COMPUTE_GAIN, MAX_TOKENS, SHARE, TIME_SCALE


def _stream_settings(args: argparse.Namespace) -> dict[str, object]:
    """The streaming flags, at their defaults until main.py adds them to the parser."""
    return {
        "streaming": getattr(args, "streaming", True),
        "runaway_rate": getattr(args, "runaway_rate", 0.0),
        "compute_bound": getattr(args, "compute_bound", False),
        "compute_gain": getattr(args, "compute_gain", 1.5),
        "rate_headers": getattr(args, "rate_headers", True),
    }


def _check(args: argparse.Namespace) -> None:
    runaway = float(getattr(args, "runaway_rate", 0.0))
    if runaway not in SHARE:
        raise Usage(f"--runaway-rate must be between {SHARE.low} and {SHARE.high}")

    gain = float(getattr(args, "compute_gain", 1.5))
    if gain not in COMPUTE_GAIN:
        raise Usage(
            f"--compute-gain must be between {COMPUTE_GAIN.low:g} and {COMPUTE_GAIN.high:g} "
            f"(got {gain:g})"
        )
    for name in (
        "error_rate",
        "malformed_rate",
        "slow_rate",
        "batch_fail_rate",
        "batch_expire_rate",
    ):
        if getattr(args, name) not in SHARE:
            raise Usage(f"--{name.replace('_', '-')} must be between {SHARE.low} and {SHARE.high}")
    if args.time_scale not in TIME_SCALE:
        raise Usage(
            f"--time-scale must be between {TIME_SCALE.low} and {TIME_SCALE.high} "
            f"(got {args.time_scale})"
        )
    if args.rpm is not None and args.rpm < 1:
        raise Usage(f"--rpm must be at least 1 (got {args.rpm})")
    for flag, value in (
        ("--context-tokens", args.context_tokens),
        ("--max-tokens-limit", args.max_tokens_limit),
    ):
        if value is not None and value < MAX_TOKENS.low:
            raise Usage(f"{flag} must be at least {MAX_TOKENS.low} (got {value})")
    if args.batch_delay not in BATCH_DELAY_S:
        raise Usage(
            f"--batch-delay must be between {BATCH_DELAY_S.low} and {BATCH_DELAY_S.high} "
            f"(got {args.batch_delay})"
        )
    if not 1 <= args.port <= 65535:
        raise Usage(f"--port must be between 1 and 65535 (got {args.port})")
    check_sim_server_flags(args)


def cmd_serve_sim(args: argparse.Namespace) -> int:
    _check(args)
    from storygen.sim import SimServerConfig, serve  # the web stack, once the flags are good

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
        **_stream_settings(args),  # type: ignore[arg-type]
    )
    print(f"serve-sim on http://127.0.0.1:{args.port}/v1 (models: {', '.join(config.models)})")
    serve(config, port=args.port)
    return 0
