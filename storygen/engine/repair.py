"""The repair pass: once every scene is written, the scenes the continuity check flags are
written again with full context, within a budget of extra calls.

A pass after the scenes, not a check per scene: most findings exist only once the scenes
around a scene do (a later name spelled apart, a repetition of an earlier scene), and a
repair told its finished neighbours on both sides can agree with them.

The plan (which scenes, what each is told) and the verdict on each answer come from the
scenes as first written, never from the order in which repairs finish: so a killed pass
resumes to the very scenes an uninterrupted one writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from storygen.core.continuity import Finding, FindingKind, check, counts
from storygen.core.looks import scene_of
from storygen.core.models import Bible, Outline, RunMeta, Scene, SceneTiming, ScriptRequest
from storygen.core.planning import budget_calls, scene_durations
from storygen.core.tasks import SceneContext, SceneTask, scene_context
from storygen.engine.attempts import Attempt, Renumbered
from storygen.engine.scenes import SceneCalls, scene_timing

# What a call can fix. Not look_missing: the look lock restates every bible look by
# construction, so a call would pay for what costs nothing.
FIXABLE: frozenset[FindingKind] = frozenset(
    {"unknown_character", "name_variant", "narration_too_long", "repetition"}
)


@dataclass(frozen=True)
class RepairPlan:
    """What the pass does, decided from the check of the scenes as first written."""

    before: tuple[Finding, ...]  # that check
    flagged: int  # scenes with a finding a call can fix
    picks: tuple[int, ...]  # the scenes written again: most such findings first, then by index
    feedback: Mapping[int, str]  # why each is written again, in the findings' own words


def plan_repairs(findings: Sequence[Finding], calls: int) -> RepairPlan:
    fixable: dict[int, list[Finding]] = {}
    for f in findings:
        if f.kind in FIXABLE:
            fixable.setdefault(f.scene, []).append(f)
    ranked = sorted(fixable, key=lambda k: (-len(fixable[k]), k))[:calls]
    feedback = {k: "; ".join(f.detail for f in fixable[k]) for k in ranked}
    return RepairPlan(tuple(findings), len(fixable), tuple(ranked), feedback)


@dataclass(frozen=True)
class _Draft:
    """A script as the check reads it, before it is a Script."""

    request: ScriptRequest
    scenes: Sequence[Scene]
    bible: Bible | None
    outline: Outline | None


class _Repairing(Renumbered):
    """A repair: numbered after the scene's first attempts, and told what the check found."""

    def __init__(self, inner: Attempt, why: Mapping[int, str], after: Mapping[int, int]) -> None:
        super().__init__(inner, after, why)


class RepairPass:
    """Writes the planned repairs, at most ``concurrency`` at once, through the run's own
    calls (retries, admission layers, hedging); keeps an answer only when the script with
    it has fewer findings. Each call leaves a row (``timing.repair``) with the scene kept,
    recorded before it counts, so that a resumed pass makes no call twice."""

    def __init__(
        self,
        request: ScriptRequest,
        written: Mapping[int, tuple[Scene, SceneTiming]],
        plan_of: tuple[Outline | None, Bible | None],
        calls: SceneCalls,
        record: Callable[[Scene, SceneTiming], None],
        concurrency: int,
        done: Sequence[tuple[Scene, SceneTiming]] = (),
    ) -> None:
        self.request, self.record, self.concurrency = request, record, concurrency
        self.outline, self.bible = plan_of
        self.first = {k: scene for k, (scene, _) in written.items()}
        self.total = request.scene_count
        self.durations = scene_durations(request.duration_s, request.seconds_per_scene)
        self.group = max((t.group for _, t in written.values()), default=0) + 1
        self.plan = plan_repairs(
            check(self._draft()), budget_calls(request.repair_budget, self.total)
        )
        self.rows: list[SceneTiming] = [t for _, t in done]
        self.kept: dict[int, Scene] = {s.index: s for s, _ in done}
        after = {k: t.attempts for k, (_, t) in written.items()}
        attempt = _Repairing(calls.attempt, self.plan.feedback, after)
        self.calls = SceneCalls(
            calls.policy, [calls.layers], calls.limit, attempt, calls.clock, calls.emit
        )
        self.left = [k for k in self.plan.picks if k not in self.kept]
        self.failure: tuple[int, Exception] | None = None

    @property
    def repaired(self) -> int:
        """Scenes a repair replaced."""
        return sum(scene != self.first[k] for k, scene in self.kept.items())

    def _draft(self, candidate: Scene | None = None) -> _Draft:
        scenes = [self.first[k] for k in range(1, self.total + 1)]
        if candidate is not None:
            scenes[candidate.index - 1] = candidate
        return _Draft(self.request, scenes, self.bible, self.outline)

    def _context(self, k: int) -> SceneContext:
        """The bible (or the outline's), and the finished neighbours on both sides, each
        side bounded by ``context_scenes``."""
        most = self.request.context_scenes
        context = scene_context(k, k - 1, self.first, most, self.outline, self.bible)
        after = range(k + 1, min(self.total, k + most) + 1)
        return replace(context, following=tuple((i, self.first[i].summary) for i in after))

    def record_in(self, meta: RunMeta) -> list[SceneTiming]:
        """What the pass did, on the run's meta; its rows, for the timeline."""
        meta.findings_before = counts(self.plan.before)
        meta.flagged_scenes = self.plan.flagged
        meta.repair_calls = len(self.rows)
        meta.repaired_scenes = self.repaired
        return self.rows

    async def run(self) -> tuple[int, Exception] | None:
        """Every repair left; the first failure (scene, cause), if any, once the calls in
        flight are answered and kept. None starts after a failure."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(k: int) -> None:
            async with gate:
                if self.failure is not None:
                    return
                try:
                    await self._repair(k)
                except Exception as exc:
                    self.failure = self.failure or (k, exc)

        tasks = [asyncio.create_task(one(k)) for k in self.left]
        try:
            await asyncio.gather(*tasks)
        finally:  # cancelled (Ctrl-C): abandon the calls in flight, as the scenes' loop does
            for task in tasks:
                task.cancel()
        return self.failure

    async def _repair(self, k: int) -> None:
        context = self._context(k)
        task = SceneTask(self.request, k, self.total, self.durations[k - 1], context)
        start = self.calls.clock()
        sent = await self.calls.send(task, start)
        draft = sent.answer.generation.value
        candidate = scene_of(draft, k, self.durations[k - 1], context.bible)  # looks locked
        end = self.calls.clock()
        self.calls.limit.answered(end - sent.last_s, sent.ticket)
        better = len(check(self._draft(candidate))) < len(self.plan.before)
        kept = candidate if better else self.first[k]
        timing = scene_timing(task, self.group, start, end, 0, sent)
        timing = timing.model_copy(update={"repair": True})
        self.record(kept, timing)  # on disk before it counts
        self.kept[k] = kept
        self.rows.append(timing)
