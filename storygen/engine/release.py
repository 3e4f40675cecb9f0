"""A scene's summary, released to later scenes as soon as it streams in, and then pinned.

Pipelined scenes start on their predecessors' summaries before those scenes are written.
So the first summary to arrive (from any attempt, any copy) is the one later scenes are
told; a retry or a backup of the scene is told it too (``SceneContext.pinned_summary``),
and the kept scene carries it whatever its answer said, so no later scene ever saw a
summary the final script does not contain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from storygen.core.models import SceneDraft
from storygen.core.tasks import SceneTask, StreamEvents


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
