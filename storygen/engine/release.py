"""A scene's summary, released to later scenes as soon as it streams in, and then pinned.

Pipelined scenes start on their predecessors' summaries before those scenes are written.
So the first summary to arrive (from any attempt, any copy) is the one later scenes are
told; a retry or a backup of the scene is told it too (``SceneContext.pinned_summary``),
and the kept scene carries it whatever its answer said, so no later scene ever saw a
summary the final script does not contain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from storygen.core.models import Scene, SceneDraft
from storygen.core.tasks import Backend, SceneTask, StreamEvents
from storygen.engine.prior import Prior
from storygen.scheduling.strategies import Strategy

log = logging.getLogger("storygen")


@dataclass
class Release:
    """What scene ``index``'s streamed copies told, and when (the run's clock)."""

    index: int
    needed: bool  # later scenes wait for this summary (pipelined)
    clock: Callable[[], float]
    on_release: Callable[[int, str], None]
    summary: str | None = None
    summary_at: float | None = None
    first_token_at: float | None = None  # the answered attempt's earliest copy
    unstreamed: list[str] = field(default_factory=list)

    def events(self) -> StreamEvents:
        return StreamEvents(self.needed, self._first_token, self._summary, self.unstreamed.append)

    def attempt_started(self) -> None:
        """A new attempt: its first token is the one the timeline shows."""
        self.first_token_at = None

    def _first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = self.clock()

    def _summary(self, text: str) -> None:
        if self.summary_at is not None:
            return  # the first copy to arrive wins; the rest are pinned to it
        self.summary_at = self.clock()
        # only a pipelined run tells anyone (else it is only timed); a resumed scene's
        # summary may have been released, and pinned, before the run was stopped
        if self.needed and self.summary is None:
            self.summary = text
            self.on_release(self.index, text)

    def times(self) -> tuple[float | None, float | None]:
        """When the first token and the summary came, for the timeline; none for a call
        that could not stream (it told both only with its whole answer)."""
        if self.unstreamed:
            return None, None
        return self.first_token_at, self.summary_at

    def pinned(self, task: SceneTask) -> SceneTask:
        """The task an attempt is sent: told the released summary, once there is one."""
        if self.summary is None:
            return task
        return replace(task, context=replace(task.context, pinned_summary=self.summary))

    def kept(self, draft: SceneDraft) -> SceneDraft:
        """The answer as kept: with the released summary, word for word."""
        if self.summary is None or draft.summary == self.summary:
            return draft
        return draft.model_copy(update={"summary": self.summary})


class Releases:
    """A run's summaries as later prompts quote them: the written scenes', and in a
    pipelined run those released while their scenes stream (pinned ones included: released
    before the run was stopped). Hands each scene its ``Release`` when it pipelines."""

    def __init__(
        self,
        written: Mapping[int, Scene],
        prior: Prior,
        strategy: Strategy,
        backend: Backend,
        clock: Callable[[], float],
        announce: Callable[[int, str], None],
    ) -> None:
        self.summaries: dict[int, str] = {k: s.summary for k, s in written.items()}
        self.pinned = prior.pinned  # released before the run was stopped
        self.summaries.update(self.pinned)
        self.strategy, self.clock, self.announce = strategy, clock, announce
        streams = bool(getattr(backend, "streams", False))
        self.live = strategy.pipelines and streams
        self.note: str | None = None
        if not streams:
            self.unstreamed(f"the {backend.name} backend does not stream")

    def for_scene(self, k: int) -> Release | None:
        """Only a pipelined rule starts later scenes on a summary, and only a backend that
        streams can tell it early; otherwise None, and the backend is called as always (it
        may still stream on its own, to cut runaway answers)."""
        if not self.live:
            return None
        return Release(k, True, self.clock, self._released, self.pinned.get(k))

    def _released(self, k: int, summary: str) -> None:
        self.summaries[k] = summary
        self.announce(k, summary)

    def written(self, scene: Scene) -> None:
        self.summaries[scene.index] = scene.summary

    def unstreamed(self, reason: str) -> str | None:
        """The run's note, once, when a pipelined run had to wait for whole scenes (said in
        the log too)."""
        if self.note is not None or not self.strategy.pipelines:
            return None
        a = self.strategy.lag_allowance
        self.note = (
            f"{reason}: each summary was known only with its scene, so "
            f"pipelined({self.strategy.concurrency}, A={a}) ran as windowed with lag allowance {a}"
        )
        log.warning("%s", self.note)
        return self.note
