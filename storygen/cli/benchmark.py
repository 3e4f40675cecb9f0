"""`bench`: every strategy on the same drawn latencies, as a table (pandas only here)."""

from __future__ import annotations

import argparse
import json
import sys

from storygen.backends.config import BackendConfig
from storygen.backends.factory import build_backend
from storygen.cli.flags import Usage, int_list
from storygen.cli.usage import named_flags, request_from_flags
from storygen.core.bounds import CONCURRENCY, REPEAT
from storygen.core.models import STRATEGIES, HedgeSettings, Script
from storygen.runner.bench import rows_as_dicts, run_bench


def cmd_bench(args: argparse.Namespace) -> int:
    sizes = int_list(args.batch_sizes, "--batch-sizes")
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise Usage(f"--strategies: unknown {unknown} (allowed: {', '.join(STRATEGIES)})")
    if args.repeat not in REPEAT:
        raise Usage(f"--repeat must be between {REPEAT.low} and {REPEAT.high} (got {args.repeat})")
    for size in sizes:
        if size not in CONCURRENCY:
            raise Usage(
                f"--batch-sizes: each size must be between {CONCURRENCY.low} and "
                f"{CONCURRENCY.high} (got {size})"
            )
    base = request_from_flags(
        args,
        idea=args.idea,
        duration_s=args.duration,
        seed=args.seed,
        hedge=HedgeSettings() if args.hedge else None,
    )
    with named_flags(args):  # validates the flags before a long run
        world = BackendConfig.build_config(
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
            make_backend=lambda: build_backend(world),
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
