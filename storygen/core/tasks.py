"""What the engine needs from an LLM: an outline or a story bible, and one scene at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from storygen.core.models import Bible, Outline, Scene, SceneDraft, ScriptRequest
from storygen.core.rate_headers import RateHeaders

T = TypeVar("T")


@dataclass(frozen=True)
class SceneContext:
    """Everything scene k is told about the rest of the story; bounded in size."""

    previous: tuple[tuple[int, str], ...] = ()  # (index, summary), oldest first
    outline: Outline | None = None
    beat: str | None = None
    previous_beat: str | None = None
    next_beat: str | None = None
    bible: Bible | None = None  # an outline run's is its outline's
    following: tuple[tuple[int, str], ...] = ()  # summaries after k (a repair's neighbours)
    # A summary later scenes were already told (pipelined): the answer must keep it.
    pinned_summary: str | None = None
    # What a person asked of this scene when they had it written again (runner.edits).
    note: str | None = None


def scene_context(
    k: int,
    upto: int,
    scenes: Mapping[int, Scene] | Mapping[int, str],
    context_scenes: int,
    outline: Outline | None,
    bible: Bible | None = None,
) -> SceneContext:
    """What scene k is told, live or through the Batch API: the summaries of the last
    ``context_scenes`` of scenes 1..upto (which the strategy chose), the story bible if
    there is one, and, with an outline, the plan (whose bible it is), its beat and its
    neighbours' beats."""
    first = max(1, upto - context_scenes + 1)
    previous = tuple((i, _summary_of(scenes[i])) for i in range(first, upto + 1))
    if outline is None:
        return SceneContext(previous=previous, bible=bible)
    beats = outline.beats
    return SceneContext(
        previous=previous,
        outline=outline,
        bible=outline.bible,
        beat=beats[k - 1],
        previous_beat=beats[k - 2] if k > 1 else None,
        next_beat=beats[k] if k < len(beats) else None,
    )


def _summary_of(scene: Scene | str) -> str:
    """A written scene's summary, or a summary released before its scene was written."""
    return scene if isinstance(scene, str) else scene.summary


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True)
class StreamEvents:
    """What a streaming backend tells the engine while one copy's answer streams in; each
    callback at most once a call. Only a backend whose ``streams`` is true is given these.

    ``needed``: later scenes wait for this summary (pipelined), so a backend that may
    stream must; otherwise it may answer with a plain call and tell everything at the end.
    """

    needed: bool = False
    first_token: Callable[[], None] = _ignore
    summary: Callable[[str], None] = _ignore  # the summary field, complete and parsed
    unstreamed: Callable[[str], None] = _ignore  # why this call could not stream


@dataclass(frozen=True)
class SceneTask:
    request: ScriptRequest
    index: int
    total: int
    duration_s: float
    context: SceneContext = field(default_factory=SceneContext)


@dataclass(frozen=True)
class Generation(Generic[T]):
    """A backend's answer with its cost; ``latency_s`` is the drawn latency if known."""

    value: T
    prompt_tokens: int
    completion_tokens: int
    latency_s: float | None = None
    rate: RateHeaders | None = None  # the server's x-ratelimit-* headers, when it sent them


class Backend(Protocol):
    """``feedback`` carries why the previous attempt was rejected, so a model can repair it.

    ``streams`` (optional, false if missing): ``write_scene`` takes ``events``.

    ``hedge`` is 0 for a call's primary request and 1 for its backup (a hedge sent while
    the primary is slow): a simulated server draws the backup's latency and faults apart
    from the primary's, and a real server is told nothing it must act on.
    """

    name: str
    model: str

    async def write_outline(
        self,
        request: ScriptRequest,
        total: int,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Outline]: ...

    async def write_bible(
        self,
        request: ScriptRequest,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Bible]: ...

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        """A backend whose ``streams`` attribute is true also takes ``events: StreamEvents``
        (keyword) and calls them as the answer streams in; others are called without."""
        ...

    def settings(self) -> dict[str, object]:
        """Non-secret settings, saved with a run so that ``resume`` can rebuild it."""
        ...
