"""Scenes of a finished script written again, in parallel, through the engine's own calls.

Each scene is told what the repair pass tells a scene (its finished neighbours on both sides,
the story bible or the outline) and the person's note. Scenes written again together are
told each other as they stood before: they run at once, so none can wait for another's
new text (regenerate neighbours one after the other when they must agree).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from storygen.core.errors import RunFailedError
from storygen.core.looks import scene_of
from storygen.core.models import Scene, Script
from storygen.core.tasks import Backend, SceneContext, SceneTask, scene_context
from storygen.engine.admission import FixedLimit
from storygen.engine.attempts import Renumbered, attempt_for
from storygen.engine.scenes import SceneCalls
from storygen.policies.retry import RetryPolicy


def told_span(script: Script) -> int:
    """Neighbours a regenerated scene is told on each side: the run's ``context_scenes``,
    and at least one, so that a scene written again always fits between its neighbours."""
    return max(1, script.request.context_scenes)


def context_for(script: Script, k: int, note: str | None) -> SceneContext:
    """Scene k's neighbours (their summaries as they are now), the bible or the outline
    with its beats, and the note."""
    by_index = {s.index: s for s in script.scenes}
    most = told_span(script)
    context = scene_context(k, k - 1, by_index, most, script.outline, script.bible)
    after = range(k + 1, min(len(script.scenes), k + most) + 1)
    following = tuple((i, by_index[i].summary) for i in after)
    return replace(context, following=following, note=note)


def attempts_so_far(script: Script, changes: Iterable[Mapping[str, Any]]) -> Counter[int]:
    """Attempts each scene has had: the run's calls (repairs included) and every earlier
    regeneration's, as history.jsonl records them."""
    spent: Counter[int] = Counter()
    for timing in script.meta.timeline:
        spent[timing.index] += timing.attempts
    for change in changes:
        for k, n in change.get("attempts", {}).items():
            spent[int(k)] += int(n)
    return spent


@dataclass(frozen=True)
class Rewritten:
    scene: Scene
    attempts: int
    prompt_tokens: int
    completion_tokens: int


def _ignore(_: object) -> None:
    return None


async def rewrite(
    script: Script,
    picks: Sequence[int],
    note: str | None,
    backend: Backend,
    after: Mapping[int, int],
    *,
    close: bool,
) -> dict[int, Rewritten]:
    """Scenes ``picks`` written again, at most the run's concurrency at once, with retries
    (and hedging, if the run hedged). The first failure cancels the rest and is raised as
    RunFailedError naming its scene: the caller then changes nothing."""
    request = script.request
    policy = RetryPolicy().scaled(getattr(backend, "time_scale", 1.0))
    attempt = Renumbered(attempt_for(request.hedge, backend, len(picks), ()), after)
    calls = SceneCalls(policy, (), FixedLimit(), attempt, time.perf_counter, _ignore)
    gate = asyncio.Semaphore(request.concurrency)
    by_index = {s.index: s for s in script.scenes}

    async def one(k: int) -> tuple[int, Rewritten]:
        async with gate:
            context = context_for(script, k, note)
            seconds = by_index[k].duration_s
            task = SceneTask(request, k, len(script.scenes), seconds, context)
            try:
                sent = await calls.send(task, time.perf_counter())
            except Exception as exc:
                raise RunFailedError(
                    f"scene {k} could not be written again ({type(exc).__name__}: {exc}); "
                    "the script is unchanged",
                    k,
                ) from exc
            gen = sent.answer.generation
            scene = scene_of(gen.value, k, seconds, context.bible)  # looks locked, as any
            return k, Rewritten(scene, sent.attempts, gen.prompt_tokens, gen.completion_tokens)

    tasks = [asyncio.create_task(one(k)) for k in picks]
    try:
        return dict(await asyncio.gather(*tasks))
    finally:  # a failure (or Ctrl-C) abandons the calls still in flight
        for task in tasks:
            task.cancel()
        aclose = getattr(backend, "aclose", None) if close else None
        if aclose is not None:
            await aclose()
