"""One attempt at a scene: a single call, or a hedged one (a call and its backups).

Both answer the same questions (which copy won, how many backups ran, how long the answer
took), so the engine records a scene the same way whether hedging is on or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from storygen.core.models import HedgeSettings, SceneDraft
from storygen.core.tasks import Backend, Generation, SceneTask, StreamEvents
from storygen.engine.admission import Layer, through
from storygen.policies.hedging import Hedged, Hedger


class Answer(Protocol):
    @property
    def generation(self) -> Generation[SceneDraft]: ...

    @property
    def backups(self) -> int:
        """Backup copies started, the losers' included."""
        ...

    @property
    def backup_won(self) -> bool: ...

    @property
    def backup_after_s(self) -> float | None:
        """When the first backup started, after the primary; None without one."""
        ...

    def took(self, measured: float) -> float:
        """How long the answering call took. The backend's own drawn latency when it has one
        (the simulated LLM), so event-loop overhead is not counted; a backup that won
        counts from the primary's start. ``measured`` is the engine's own clock."""
        ...


@dataclass(frozen=True)
class Single:
    """A call that was not hedged: one copy, and it won."""

    generation: Generation[SceneDraft]
    backups: int = 0
    backup_won: bool = False
    backup_after_s: float | None = None

    def took(self, measured: float) -> float:
        drawn = self.generation.latency_s
        return measured if drawn is None else drawn


@dataclass(frozen=True)
class HedgedAnswer:
    """A hedged call's answer: the hedger timed its copies itself."""

    hedged: Hedged[SceneDraft]

    @property
    def generation(self) -> Generation[SceneDraft]:
        return self.hedged.generation

    @property
    def backups(self) -> int:
        return self.hedged.backups

    @property
    def backup_won(self) -> bool:
        return self.hedged.backup_won

    @property
    def backup_after_s(self) -> float | None:
        return self.hedged.backup_after_s

    def took(self, measured: float) -> float:
        drawn = self.generation.latency_s
        if drawn is None:
            return self.hedged.seconds
        if self.hedged.backup_won:
            return self.hedged.winner_after_s + drawn
        return drawn


class Attempt(Protocol):
    async def __call__(
        self,
        task: SceneTask,
        attempt: int,
        feedback: str | None,
        events: StreamEvents | None = None,
    ) -> Answer:
        """``events``: given to a streaming backend's every copy (None for the others)."""
        ...


def _write(
    backend: Backend,
    task: SceneTask,
    attempt: int,
    feedback: str | None,
    events: StreamEvents | None,
    hedge: int = 0,
) -> Awaitable[Generation[SceneDraft]]:
    """One copy of the call: a primary is not told ``hedge`` (any backend, hedging-aware
    or not), and a backend that does not stream is never given ``events``."""
    extra: dict[str, Any] = {}
    if hedge:
        extra["hedge"] = hedge
    if events is not None:
        extra["events"] = events
    return backend.write_scene(task, attempt=attempt, feedback=feedback, **extra)


class PlainAttempt:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def __call__(
        self,
        task: SceneTask,
        attempt: int,
        feedback: str | None,
        events: StreamEvents | None = None,
    ) -> Answer:
        return Single(await _write(self.backend, task, attempt, feedback, events))


class HedgedAttempt:
    """The primary call, and backups while it runs too long (see policies.hedging)."""

    def __init__(self, backend: Backend, hedger: Hedger, backup: Sequence[Layer]) -> None:
        self.backend, self.hedger, self.backup = backend, hedger, through(backup)

    async def __call__(
        self,
        task: SceneTask,
        attempt: int,
        feedback: str | None,
        events: StreamEvents | None = None,
    ) -> Answer:
        backend = self.backend

        def copy(n: int) -> Awaitable[Generation[SceneDraft]]:
            if n == 0:  # the primary: any backend, hedging-aware or not
                return _write(backend, task, attempt, feedback, events)
            return backup(n)

        async def backup(n: int) -> Generation[SceneDraft]:
            async with self.backup.slot():
                return await _write(backend, task, attempt, feedback, events, hedge=n)

        return HedgedAnswer(await self.hedger.call(copy))


class Renumbered:
    """The run's own attempt (plain or hedged) at a scene written again, by the repair pass
    or a regeneration: numbered after the scene's earlier attempts, so that a model (and the
    simulator, which draws by attempt) answers afresh instead of repeating itself, and told
    ``why`` it is written again, if there is a reason, after a retry's own reason."""

    def __init__(
        self, inner: Attempt, after: Mapping[int, int], why: Mapping[int, str] | None = None
    ) -> None:
        self.inner, self.after, self.why = inner, after, why or {}

    async def __call__(
        self,
        task: SceneTask,
        attempt: int,
        feedback: str | None,
        events: StreamEvents | None = None,
    ) -> Answer:
        why = self.why.get(task.index)
        # a retry's own reason first: a backend reads "cut off at max_tokens" at the start
        told = feedback if why is None else why if feedback is None else f"{feedback}; {why}"
        number = self.after.get(task.index, 0) + attempt
        if events is None:  # as any attempt is called when nothing streams
            return await self.inner(task, number, told)
        return await self.inner(task, number, told, events)


def attempt_for(
    settings: HedgeSettings | None, backend: Backend, planned: int, backup: Sequence[Layer]
) -> Attempt:
    """Hedged when asked for, with a budget of backups counted over the ``planned`` calls."""
    if settings is None:
        return PlainAttempt(backend)
    return HedgedAttempt(backend, Hedger(settings, planned), backup)
