"""Every strategy on the same 75-scene request and latencies; writes CSV and JSON.

    python -m benchmarks.bench_strategies [--repeat 3] [--time-scale 0.0125]

A time scale of 0.0125 makes a median call last 0.1 s, so measured / ideal shows the
engine's own overhead; speedups are ratios measured within one run.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import OUT
from storygen.cli.main import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", default="3")
    parser.add_argument("--time-scale", default="0.0125")
    parser.add_argument("--batch-sizes", default="3,5,10,25")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sys.exit(
        main(
            [
                "bench",
                "--duration",
                "600",
                "--batch-sizes",
                args.batch_sizes,
                "--time-scale",
                args.time_scale,
                "--repeat",
                args.repeat,
                "--json",
                str(OUT / "strategies.json"),
                "--csv",
                str(OUT / "strategies.csv"),
            ]
        )
    )
