"""The names of configurations ("batched(5)", "windowed(adaptive)+hedge"), one spelling
everywhere: lanes, tables, charts, the Runs page and the bulk validation table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from storygen.core.models import Script, ScriptRequest

# How a comparison's speedups were found: against a sequential run that was measured, or
# against each run's own sum of call times (a paid API, where sequential is not run).
Baseline = Literal["measured", "estimated"]


def config_label(
    strategy: str, concurrency: int, *, hedge: bool = False, adaptive: bool = False
) -> str:
    """ "batched(5)", "windowed(adaptive)+hedge": the name of a configuration everywhere."""
    size = "adaptive" if adaptive else str(concurrency)
    base = "sequential" if strategy == "sequential" else f"{strategy}({size})"
    return base + ("+hedge" if hedge else "")


def request_label(request: ScriptRequest) -> str:
    return config_label(
        request.strategy,
        request.concurrency,
        hedge=request.hedge is not None,
        adaptive=request.adaptive is not None,
    )


def labels_for(scripts: Sequence[Script]) -> list[str]:
    """Configuration labels, numbered when the same configuration appears twice."""
    base = [request_label(s.request) for s in scripts]
    out: list[str] = []
    for i, label in enumerate(base):
        repeated = base.count(label) > 1
        out.append(f"{label} #{base[:i].count(label) + 1}" if repeated else label)
    return out
