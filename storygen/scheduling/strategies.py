"""Strategies are admission rules: when may scene k start, and what does it see.

Scenes are admitted in index order, so a rule only ever judges the next scene.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest


@dataclass
class Progress:
    """The state every rule reads; kept by the scheduler."""

    prefix: int = 0  # scenes 1..prefix are all done
    in_flight: int = 0
    summarized: int = 0  # the summaries of scenes 1..summarized are known (pipelined)
    outline_done: bool = False


class Strategy(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def concurrency(self) -> int: ...

    @property
    def needs_outline(self) -> bool: ...

    # What the engine asks instead of testing the name:
    @property
    def adapts(self) -> bool:
        """An adaptive limit may size this rule (sequential is one at a time by definition)."""
        ...

    @property
    def batches(self) -> bool:
        """The limit sizes whole batches, each waiting for its last call."""
        ...

    @property
    def caps_in_flight(self) -> bool:
        """An adaptive limit caps the calls in flight (the scheduler's ``cap``)."""
        ...

    @property
    def lag_allowance(self) -> int | None:
        """Scenes k-A+1..k-1 that scene k may start without (windowed and pipelined)."""
        ...

    @property
    def pipelines(self) -> bool:
        """Scene k starts on its predecessors' summaries, released while they stream."""
        ...

    def may_start(self, k: int, p: Progress) -> bool: ...

    def context_upto(self, k: int, p: Progress) -> int:
        """Scenes 1..n whose summaries scene k may quote (the last K of them)."""
        ...

    def group(self, k: int) -> int: ...

    def members(self, group: int) -> range:
        """The scenes of a group (a batch, or a wave of starts), once the group has started."""
        ...


def _wave(group: int, size: int) -> range:
    """Scenes (group-1)*size+1 .. group*size: a batch of fixed size, or a wave of starts."""
    return range((group - 1) * size + 1, group * size + 1)


@dataclass(frozen=True)
class Sequential:
    name: str = "sequential"
    concurrency: int = 1
    needs_outline: bool = False
    adapts: ClassVar[bool] = False
    batches: ClassVar[bool] = False
    caps_in_flight: ClassVar[bool] = False
    lag_allowance: ClassVar[int | None] = None
    pipelines: ClassVar[bool] = False

    def may_start(self, k: int, p: Progress) -> bool:
        return p.prefix >= k - 1

    def context_upto(self, k: int, p: Progress) -> int:
        return k - 1

    def group(self, k: int) -> int:
        return k

    def members(self, group: int) -> range:
        return range(group, group + 1)


@dataclass(frozen=True)
class Batched:
    """The classic: a batch starts when the whole previous batch is done."""

    concurrency: int
    name: str = "batched"
    needs_outline: bool = False
    adapts: ClassVar[bool] = True
    batches: ClassVar[bool] = True
    caps_in_flight: ClassVar[bool] = False  # each batch is sized by the limit instead
    lag_allowance: ClassVar[int | None] = None
    pipelines: ClassVar[bool] = False

    def _first(self, k: int) -> int:
        return (k - 1) // self.concurrency * self.concurrency + 1

    def may_start(self, k: int, p: Progress) -> bool:
        return p.prefix >= self._first(k) - 1

    def context_upto(self, k: int, p: Progress) -> int:
        return self._first(k) - 1

    def group(self, k: int) -> int:
        return (k - 1) // self.concurrency + 1

    def members(self, group: int) -> range:
        return _wave(group, self.concurrency)


@dataclass(frozen=True)
class Windowed:
    """No barrier: W calls in flight, scene k waits only for scenes 1..k-A."""

    concurrency: int
    lag_allowance: int
    name: str = "windowed"
    needs_outline: bool = False
    adapts: ClassVar[bool] = True
    batches: ClassVar[bool] = False
    caps_in_flight: ClassVar[bool] = True
    pipelines: ClassVar[bool] = False

    def may_start(self, k: int, p: Progress) -> bool:
        return p.in_flight < self.concurrency and p.prefix >= k - self.lag_allowance

    def context_upto(self, k: int, p: Progress) -> int:
        return min(p.prefix, k - 1)

    def group(self, k: int) -> int:
        return (k - 1) // self.concurrency + 1

    def members(self, group: int) -> range:
        return _wave(group, self.concurrency)


@dataclass(frozen=True)
class OutlineFirst:
    """Plan-then-write: after the outline every scene may start, W at a time."""

    concurrency: int
    name: str = "outline"
    needs_outline: bool = True
    adapts: ClassVar[bool] = True
    batches: ClassVar[bool] = False
    caps_in_flight: ClassVar[bool] = True
    lag_allowance: ClassVar[int | None] = None
    pipelines: ClassVar[bool] = False

    def may_start(self, k: int, p: Progress) -> bool:
        return p.outline_done and p.in_flight < self.concurrency

    def context_upto(self, k: int, p: Progress) -> int:
        return 0

    def group(self, k: int) -> int:
        return (k - 1) // self.concurrency + 1

    def members(self, group: int) -> range:
        return _wave(group, self.concurrency)


@dataclass(frozen=True)
class Pipelined:
    """Lag 0 at a pipeline's speed: scene k starts once the summaries of scenes 1..k-A are
    known, each released as soon as it has streamed in, with at most W calls in flight."""

    concurrency: int
    lag_allowance: int = 1
    name: str = "pipelined"
    needs_outline: bool = False
    adapts: ClassVar[bool] = True
    batches: ClassVar[bool] = False
    caps_in_flight: ClassVar[bool] = True
    pipelines: ClassVar[bool] = True

    def may_start(self, k: int, p: Progress) -> bool:
        return p.in_flight < self.concurrency and p.summarized >= k - self.lag_allowance

    def context_upto(self, k: int, p: Progress) -> int:
        return min(p.summarized, k - 1)

    def group(self, k: int) -> int:
        return (k - 1) // self.concurrency + 1

    def members(self, group: int) -> range:
        return _wave(group, self.concurrency)


@dataclass
class AdaptiveBatched:
    """Batched, with each batch's size chosen when it starts (the original design's
    "adaptive batch size"): ``size()`` is asked once per batch."""

    size: Callable[[], int]
    concurrency: int  # the largest batch
    name: str = "batched"
    needs_outline: bool = False
    adapts: ClassVar[bool] = True
    batches: ClassVar[bool] = True
    caps_in_flight: ClassVar[bool] = False
    lag_allowance: ClassVar[int | None] = None
    pipelines: ClassVar[bool] = False
    starts: list[int] = field(default_factory=lambda: [1])  # first scene of each batch
    ends: list[int] = field(default_factory=list)  # one past the last

    def __post_init__(self) -> None:
        self.ends.append(1 + self._next_size())

    def _next_size(self) -> int:
        return max(1, min(self.concurrency, self.size()))

    def may_start(self, k: int, p: Progress) -> bool:
        if k < self.ends[-1]:
            return p.prefix >= self.starts[-1] - 1
        if p.prefix < self.ends[-1] - 1:
            return False  # the barrier: the whole previous batch first
        self.starts.append(self.ends[-1])
        self.ends.append(self.starts[-1] + self._next_size())
        return True

    def context_upto(self, k: int, p: Progress) -> int:
        return self.starts[self.group(k) - 1] - 1

    def group(self, k: int) -> int:
        """The batch of scene k once it has started (later scenes: the current batch)."""
        return max(1, bisect.bisect_right(self.starts, k))

    def members(self, group: int) -> range:
        return range(self.starts[group - 1], self.ends[group - 1])


def strategy_for(request: ScriptRequest, size: Callable[[], int] | None = None) -> Strategy:
    """The rule object a request asks for; ``size`` is an adaptive run's current limit."""
    w = request.concurrency
    if request.strategy == "sequential":
        return Sequential()
    if request.strategy == "batched":
        return AdaptiveBatched(size, w) if size is not None else Batched(w)
    if request.strategy == "windowed":
        return Windowed(w, request.effective_lag_allowance)
    if request.strategy == "outline":
        return OutlineFirst(w)
    if request.strategy == "pipelined":
        return Pipelined(w, request.effective_lag_allowance)
    raise InvalidRequestError(  # pragma: no cover - ScriptRequest already validates
        f"unknown strategy {request.strategy!r}", field="strategy"
    )
