"""The one scheduling loop, and the small objects it asks (limits, attempts, sinks)."""

from storygen.engine.loop import run_async
from storygen.engine.prior import Prior

__all__ = ["Prior", "run_async"]
