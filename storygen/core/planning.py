"""Planning a script: how a duration becomes clips, and what the finished script is called."""

from __future__ import annotations

import math

from storygen.core.errors import InvalidRequestError
from storygen.core.models import Bible, Outline, RunMeta, Scene, Script, ScriptRequest

CLIP_SECONDS = 8.0


def scene_count(duration_s: float, seconds_per_scene: float = CLIP_SECONDS) -> int:
    """N = ceil(D / clip); a tiny epsilon keeps 600.0000001 from adding a scene."""
    if duration_s <= 0:
        raise InvalidRequestError(
            f"duration_s must be positive (got {duration_s})", field="duration_s"
        )
    if seconds_per_scene <= 0:
        raise InvalidRequestError(
            f"seconds_per_scene must be positive (got {seconds_per_scene})",
            field="seconds_per_scene",
        )
    return max(1, math.ceil(duration_s / seconds_per_scene - 1e-9))


def scene_durations(duration_s: float, seconds_per_scene: float = CLIP_SECONDS) -> list[float]:
    """Every clip is full length except the last, which takes the remainder."""
    n = scene_count(duration_s, seconds_per_scene)
    last = round(duration_s - (n - 1) * seconds_per_scene, 6)
    return [float(seconds_per_scene)] * (n - 1) + [last]


def batches(total: int, size: int) -> list[list[int]]:
    """1-based scene indices cut into consecutive batches of ``size``."""
    if size < 1:
        raise InvalidRequestError(
            f"batch size must be at least 1 (got {size})", field="concurrency"
        )
    return [list(range(s, min(s + size, total + 1))) for s in range(1, total + 1, size)]


_DANGLING = {"a", "an", "the", "to", "of", "in", "on", "at", "and", "or", "for", "with", "from"}


def budget_calls(share: float, total: int) -> int:
    """The most repair calls: ``share`` of the scenes, at least one (the repair pass's
    budget, and what a spend estimate counts for it)."""
    return max(1, math.floor(share * total + 1e-9))  # 0.29 x 100 is 28.99…: still 29


def title_from_idea(idea: str) -> str:
    """At most eight words, never ending on "a", "to" or "the"."""
    words = idea.strip().rstrip(".!?").split()[:8]
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    title = " ".join(words)
    return title[:1].upper() + title[1:] or "Untitled"


def assemble_script(
    request: ScriptRequest,
    outline: Outline | None,
    scenes: list[Scene],
    meta: RunMeta,
    bible: Bible | None = None,
) -> Script:
    """The script of a finished run, live or through the Batch API: titled by its outline,
    or, without one, by the idea; with the bible its scenes were told (an outline run's is
    its outline's) and the continuity check's findings, so that every export carries them."""
    script = Script(
        title=outline.title if outline else title_from_idea(request.idea),
        request=request,
        outline=outline,
        bible=bible if bible is not None or outline is None else outline.bible,
        scenes=scenes,
        meta=meta,
    )
    script.findings = script.check()
    return script
