"""Benchmarks: each prints ratios measured in one run; the README holds the committed numbers.

Results go to benchmarks/out/ (git-ignored), so running a benchmark never changes a tracked
file; benchmarks/results/ keeps the runs the README quotes.
"""

from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
