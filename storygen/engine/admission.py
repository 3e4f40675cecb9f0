"""What a call passes before it is sent: a list of small layers, each with one ``slot()``
(aiometer's meters: wait for room, hold it while the call runs, give it back).

A policy that is off is a null layer, as tenacity's ``stop_never``: the engine never asks
whether there is a limit or a budget, it passes the list.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from storygen.core.models import AdaptiveSettings
from storygen.core.rate_headers import RateHeaders
from storygen.policies.adaptive import Controller, Gate
from storygen.policies.budget import Budget
from storygen.scheduling.strategies import Strategy


class Layer(Protocol):
    def slot(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class Limit(Layer, Protocol):
    """The concurrency limit, which also hears how each call went."""

    @property
    def size(self) -> Callable[[], int] | None:
        """The limit as it is now, for the scheduler and the strategy; None: fixed."""
        ...

    def start(self) -> None: ...

    def started(self) -> int:
        """A call was sent: its ticket, handed back with its answer."""
        ...

    def answered(self, seconds: float, ticket: int) -> None: ...

    def rate_limited(self, wait: float) -> None: ...

    def observed(self, rate: RateHeaders) -> None:
        """An answer's rate-limit headers (x-ratelimit-*)."""
        ...

    def plateau(self) -> int | None:
        """Calls in flight beyond which the server got no faster; None: not seen."""
        ...

    def trace(self) -> list[tuple[float, int]]: ...


class NoLayer:
    """Nothing to wait for: a budget not given, or a limit the scheduler already keeps."""

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


class FixedLimit(NoLayer):
    """The strategy's own concurrency, which the scheduler keeps: nothing to learn."""

    size: Callable[[], int] | None = None

    def start(self) -> None:
        pass

    def started(self) -> int:
        return 0

    def answered(self, seconds: float, ticket: int) -> None:
        pass

    def rate_limited(self, wait: float) -> None:
        pass

    def observed(self, rate: RateHeaders) -> None:
        pass  # a fixed concurrency is the user's: a limiter of theirs paces, if any

    def plateau(self) -> int | None:
        return None

    def trace(self) -> list[tuple[float, int]]:
        return []


class AdaptiveLimit:
    """The controller chooses the limit from call times, throughput and 429s; the gate
    holds every attempt to it, and to the provider's request window as its rate-limit
    headers state it or, without them, as a 429 has taught it."""

    def __init__(
        self,
        settings: AdaptiveSettings,
        most: int,
        clock: Callable[[], float],
        batches: bool,
    ) -> None:
        self.controller = Controller(settings, most, clock=clock, batches=batches)
        self.size: Callable[[], int] | None = self.controller.current
        self.gate = Gate(self.controller.current, self.controller)

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.gate.slot()

    def start(self) -> None:
        self.controller.start()

    def started(self) -> int:
        return self.controller.ticket()

    def answered(self, seconds: float, ticket: int) -> None:
        self.controller.on_answer(seconds, ticket)

    def rate_limited(self, wait: float) -> None:
        self.controller.on_rate_limited()
        self.gate.pause(wait)  # nobody calls before the provider said, not only this call

    def observed(self, rate: RateHeaders) -> None:
        self.gate.observed(rate)  # the provider's own count paces the calls from now on

    def plateau(self) -> int | None:
        return self.controller.plateau()

    def trace(self) -> list[tuple[float, int]]:
        return list(self.controller.trace)


def concurrency_limit(
    settings: AdaptiveSettings | None, most: int, strategy: Strategy, clock: Callable[[], float]
) -> Limit:
    """Adaptive when asked for and the strategy can be sized by it; else fixed."""
    if settings is None or not strategy.adapts:
        return FixedLimit()
    return AdaptiveLimit(settings, most, clock, batches=strategy.batches)


@dataclass(frozen=True)
class Admission:
    """The layers each kind of call passes, in order."""

    primary: tuple[Layer, ...]  # every attempt at a scene, retries included
    backup: tuple[Layer, ...]  # a hedged attempt's backup copies
    outline: tuple[Layer, ...]


def admission(limit: Limit, budget: Budget | None) -> Admission:
    """Admission in one place. A scene's attempt waits for the concurrency limit first, then
    for the budget shared with other runs, so that it waits for the budget only once the
    limit lets it go. A backup passes the budget but not the limit: it belongs to an attempt
    that already holds its place under the limit, and is a call in flight like any other
    for the shared budget. The outline passes the budget only: no scene runs beside it."""
    shared: Layer = budget if budget is not None else NoLayer()
    return Admission(primary=(limit, shared), backup=(shared,), outline=(shared,))


class _Both:
    """``first``, then ``then``: the same as nested ``async with`` blocks."""

    def __init__(self, first: Layer, then: Layer) -> None:
        self.first, self.then = first, then

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.first.slot(), self.then.slot():
            yield


def through(layers: Sequence[Layer]) -> Layer:
    """One layer that passes ``layers`` in order and leaves them in reverse. A null layer
    has nothing to wait for, so it is left out: a call then pays for no context manager it
    does not need, which a bulk run of thousands of calls a second feels."""
    live = [layer for layer in layers if not isinstance(layer, NoLayer)]
    if not live:
        return NoLayer()
    layer = live[-1]
    for outer in reversed(live[:-1]):
        layer = _Both(outer, layer)
    return layer
