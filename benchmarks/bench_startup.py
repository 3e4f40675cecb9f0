"""Start-up of the CLI: what `python -m storygen ...` imports, and how long it takes.

    python -m benchmarks.bench_startup [--repeat 5] [--root PATH]

For `--help`, a tiny simulated `generate` and `bench --help`, each in a fresh interpreter:
the cumulative import time of storygen's modules (from `python -X importtime`), which of
the heavy libraries were imported, and the command's wall time (median of --repeat runs,
measured without -X importtime, whose bookkeeping costs time of its own). --root runs
another tree, e.g. an unpacked older commit, to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "fastapi", "uvicorn", "streamlit", "plotly", "pandas")


def _generate(runs: Path) -> list[str]:
    return [
        "generate",
        "--idea",
        "A lighthouse keeper finds a map",
        "--duration",
        "32",
        "--time-scale",
        "0.001",
        "--runs-dir",
        str(runs),
        "--no-progress",
    ]


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "--help": lambda _: ["--help"],
    "generate": _generate,
    "bench --help": lambda _: ["bench", "--help"],
}


@dataclass
class Startup:
    command: str
    import_ms: float
    heavy: list[str]
    wall_s: float


def _run(root: Path, argv: list[str], importtime: bool) -> tuple[float, str]:
    flags = ["-X", "importtime"] if importtime else []
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, "-m", "storygen", *argv],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-500:]}")
    return wall, done.stderr


def _imports(log: str) -> tuple[float, set[str]]:
    """storygen's top-level imports' cumulative ms, and every top-level package imported.

    A line reads ``import time: self | cumulative | <2 spaces a level>name``; only the
    outermost storygen imports are summed, as each one's figure includes what it pulls in.
    """
    total_us, seen = 0, set()
    for line in log.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, raw = line.removeprefix("import time:").split("|")
        name = raw.strip()
        seen.add(name.split(".")[0])
        top_level = len(raw) - len(raw.lstrip()) == 1
        if top_level and name.split(".")[0] == "storygen":
            total_us += int(cumulative)
    return total_us / 1000, seen


def measure(root: Path, name: str, repeat: int) -> Startup:
    import_ms, walls, heavy = [], [], set()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as runs:
            _, log = _run(root, COMMANDS[name](Path(runs)), importtime=True)
        ms, seen = _imports(log)
        import_ms.append(ms)
        heavy |= seen & set(HEAVY)
        with tempfile.TemporaryDirectory() as runs:
            walls.append(_run(root, COMMANDS[name](Path(runs)), importtime=False)[0])
    return Startup(name, statistics.median(import_ms), sorted(heavy), statistics.median(walls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to measure")
    args = parser.parse_args()
    print(f"{'command':<14} {'storygen imports':>17} {'wall (median)':>14}  heavy imported")
    for name in COMMANDS:
        s = measure(args.root.resolve(), name, args.repeat)
        heavy = ", ".join(s.heavy) or "none"
        print(f"{s.command:<14} {s.import_ms:14.0f} ms {s.wall_s:12.2f} s  {heavy}")


if __name__ == "__main__":
    main()
