"""What a shared deployment lets one run do: its video's length, its calls in flight and its
cost; and how many jobs may run at once. A visitor of a shared dashboard types the request;
the person who deployed it pays.

The caps are read from settings by name (``STORYGEN_MAX_DURATION_S``,
``STORYGEN_MAX_IN_FLIGHT``, ``STORYGEN_MAX_COST``, ``STORYGEN_MAX_RUNNING``: the app looks in
st.secrets, then the environment), each with a default that keeps a demo cheap, and each value
checked like any other input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from storygen.core.bounds import CONCURRENCY, DURATION_S, Bound
from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest

# name: (field a breach is said next to, default, allowed range)
SETTINGS: dict[str, tuple[str, float, Bound]] = {
    "STORYGEN_MAX_DURATION_S": ("duration_s", 600.0, DURATION_S),
    "STORYGEN_MAX_IN_FLIGHT": ("concurrency", 10.0, CONCURRENCY),
    "STORYGEN_MAX_COST": ("max_cost", 1.0, Bound(0.01, 10_000)),
    # not one run's: the jobs (a script, a comparison, a bulk run) running at once, all
    # visitors together, so that the machine's cores and the deployer's bill stay bounded
    "STORYGEN_MAX_RUNNING": ("running", 4.0, Bound(1, 100)),
}


def in_flight(request: ScriptRequest) -> int:
    """The most calls ``request`` has in flight at once (an adaptive run's most; backups of
    hedged calls aside, which its hedge budget bounds)."""
    return 1 if request.strategy == "sequential" else request.concurrency


@dataclass(frozen=True)
class RunCaps:
    """The most a run may ask for in a shared deployment."""

    max_duration_s: float = SETTINGS["STORYGEN_MAX_DURATION_S"][1]
    max_in_flight: int = int(SETTINGS["STORYGEN_MAX_IN_FLIGHT"][1])
    max_cost: float = SETTINGS["STORYGEN_MAX_COST"][1]
    max_running: int = int(SETTINGS["STORYGEN_MAX_RUNNING"][1])

    @classmethod
    def from_settings(cls, get: Callable[[str], str | None]) -> RunCaps:
        """The caps from ``get(name)`` (None: unset, the default); a bad value is refused
        with its name and the allowed range."""
        values: list[float] = []
        for name, (_, default, bound) in SETTINGS.items():
            text = get(name)
            if text is None or not str(text).strip():
                values.append(default)
                continue
            try:
                value = float(str(text).strip().removeprefix("$"))
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value in bound):
                raise InvalidRequestError(
                    f"{name} must be a number from {bound.low:g} to {bound.high:g} (got {text!r})",
                    name,
                )
            values.append(value)
        return cls(values[0], int(values[1]), values[2], int(values[3]))

    def check(self, request: ScriptRequest) -> None:
        """Refuse a request over the caps, naming the field to change and its most."""
        if request.duration_s > self.max_duration_s:
            raise InvalidRequestError(
                f"this shared dashboard writes videos of at most {self.max_duration_s:g} s "
                f"(got {request.duration_s:g} s)",
                "duration_s",
            )
        if in_flight(request) > self.max_in_flight:
            raise InvalidRequestError(
                f"this shared dashboard allows at most {self.max_in_flight} calls in flight "
                f"per run (got {in_flight(request)})",
                "concurrency",
            )

    def cost(self, chosen: float | None) -> float:
        """The spend cap of a run: the visitor's, never above the deployment's."""
        return self.max_cost if chosen is None else min(chosen, self.max_cost)
