"""Each strategy's ordering and context rules, checked from the recorded timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import Generation, SceneTask, Script, ScriptRequest, SimulatedBackend, generate
from storygen.core.models import SceneDraft, SceneTiming


class RecordingBackend(SimulatedBackend):
    """Keeps the task (and so the context) the engine handed each scene."""

    def __init__(self, **kw: object) -> None:
        super().__init__(time_scale=FAST, **kw)  # type: ignore[arg-type]
        self.tasks: dict[int, SceneTask] = {}

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        self.tasks[task.index] = task
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


def run(request: ScriptRequest, **changes: object) -> tuple[Script, RecordingBackend]:
    backend = RecordingBackend()
    script = generate(request.model_copy(update=changes), backend, policy=fast_policy())
    return script, backend


def timing(script: Script) -> dict[int, SceneTiming]:
    return {t.index: t for t in script.meta.timeline}


def max_in_flight(script: Script) -> int:
    edges = sorted(
        [(t.start_s, 1) for t in script.meta.timeline]
        + [(t.end_s, -1) for t in script.meta.timeline]
    )
    level = peak = 0
    for _, step in edges:  # ends sort before starts at equal times
        level += step
        peak = max(peak, level)
    return peak


def lag_from_timeline(script: Script, k: int) -> int:
    t = timing(script)
    return sum(1 for j in range(1, k) if t[j].end_s > t[k].start_s)


def assert_complete_in_order(script: Script, total: int) -> None:
    assert [s.index for s in script.scenes] == list(range(1, total + 1))
    assert sorted(t.index for t in script.meta.timeline) == list(range(1, total + 1))


def test_sequential_runs_one_scene_at_a_time_with_full_context(request_75: ScriptRequest) -> None:
    script, backend = run(request_75, strategy="sequential", context_scenes=5)
    assert_complete_in_order(script, 75)
    t = timing(script)
    for k in range(2, 76):
        assert t[k].start_s >= t[k - 1].end_s
        assert t[k].context_lag == 0
        previous = backend.tasks[k].context.previous
        assert [i for i, _ in previous] == list(range(max(1, k - 5), k))
        assert previous[-1][1] == script.scenes[k - 2].summary


@pytest.mark.parametrize("size", [3, 5, 10])
def test_batched_waits_for_the_whole_previous_batch(request_75: ScriptRequest, size: int) -> None:
    script, backend = run(request_75, strategy="batched", concurrency=size)
    assert_complete_in_order(script, 75)
    t = timing(script)
    groups: dict[int, list[int]] = {}
    for k, rec in t.items():
        groups.setdefault(rec.group, []).append(k)
    assert all(len(ks) == size for g, ks in groups.items() if g < max(groups))
    for g in range(2, max(groups) + 1):
        previous_end = max(t[k].end_s for k in groups[g - 1])
        assert min(t[k].start_s for k in groups[g]) >= previous_end
        # every scene of a batch sees the same context: the scenes done before it
        contexts = {backend.tasks[k].context.previous for k in groups[g]}
        assert len(contexts) == 1
        (shared,) = contexts
        assert shared[-1][0] == min(groups[g]) - 1
    assert max_in_flight(script) <= size
    for k in t:
        assert t[k].context_lag == lag_from_timeline(script, k)


@pytest.mark.parametrize(("window", "allowance"), [(5, 10), (10, 20), (4, 4)])
def test_windowed_has_no_barrier_but_respects_the_lag_allowance(
    request_75: ScriptRequest, window: int, allowance: int
) -> None:
    script, backend = run(
        request_75, strategy="windowed", concurrency=window, lag_allowance=allowance
    )
    assert_complete_in_order(script, 75)
    t = timing(script)
    for k in range(allowance + 1, 76):
        assert t[k].start_s >= max(t[j].end_s for j in range(1, k - allowance + 1))
    assert max_in_flight(script) <= window
    for k in t:
        assert t[k].context_lag == lag_from_timeline(script, k)
        assert t[k].context_lag <= allowance - 1
        # context is the longest completed prefix at start time
        previous = backend.tasks[k].context.previous
        prefix_end = previous[-1][0] if previous else 0
        assert all(t[j].end_s <= t[k].start_s for j in range(1, prefix_end + 1))
        if prefix_end + 1 < k:
            assert t[prefix_end + 1].end_s > t[k].start_s


def test_windowed_starts_scenes_before_a_batch_would(request_75: ScriptRequest) -> None:
    """The point of windowing: someone starts while a straggler is still running."""
    script, _ = run(request_75, strategy="windowed", concurrency=5)
    t = timing(script)
    overlapping = [
        k for k in range(6, 76) if any(t[j].end_s > t[k].start_s for j in range(1, k - 5 + 1))
    ]
    assert overlapping


def test_outline_first_then_every_scene_sees_the_plan(request_75: ScriptRequest) -> None:
    script, backend = run(request_75, strategy="outline", concurrency=25)
    assert_complete_in_order(script, 75)
    assert script.outline is not None
    assert len(script.outline.beats) == 75
    assert script.title == script.outline.title
    outline_end = script.meta.outline_end_s
    assert outline_end is not None
    for k, rec in timing(script).items():
        assert rec.had_outline
        assert rec.start_s >= outline_end
        ctx = backend.tasks[k].context
        assert ctx.outline == script.outline
        assert ctx.beat == script.outline.beats[k - 1]
        assert ctx.previous_beat == (script.outline.beats[k - 2] if k > 1 else None)
        assert ctx.next_beat == (script.outline.beats[k] if k < 75 else None)
    assert max_in_flight(script) <= 25


def test_prompt_size_does_not_grow_with_the_scene_number(request_75: ScriptRequest) -> None:
    script, backend = run(request_75, strategy="sequential", context_scenes=3)
    sizes = {len(backend.tasks[k].context.previous) for k in range(4, 76)}
    assert sizes == {3}
    tokens = [t.prompt_tokens for t in script.meta.timeline[3:]]
    assert max(tokens) - min(tokens) < 0.5 * min(tokens)


def test_engine_sets_index_and_duration_not_the_model() -> None:
    request = ScriptRequest(idea="A short trip", duration_s=180, strategy="batched", concurrency=5)
    script, _ = run(request)
    assert [s.index for s in script.scenes] == list(range(1, 24))
    assert [s.duration_s for s in script.scenes] == [8.0] * 22 + [4.0]


def _batches_seen(events: list[object]) -> list[tuple[int, float, float]]:
    from storygen.engine.events import BatchFinished

    return [(e.group, e.start_s, e.end_s) for e in events if isinstance(e, BatchFinished)]


@pytest.mark.parametrize("adaptive", [False, True])
def test_each_batch_is_reported_once_when_its_last_scene_is_done(adaptive: bool) -> None:
    """BatchFinished: once per batch, from its first start to its last end, also when the
    batch sizes are found at run time."""
    from storygen.core.models import AdaptiveSettings

    events: list[object] = []
    request = ScriptRequest(
        idea="A heist",
        duration_s=160,
        strategy="batched",
        concurrency=4,
        adaptive=AdaptiveSettings(start=2) if adaptive else None,
    )
    script = generate(request, SimulatedBackend(time_scale=FAST), subscribers=[events.append])
    by_group: dict[int, list[SceneTiming]] = {}
    for t in script.meta.timeline:
        by_group.setdefault(t.group, []).append(t)
    expected = [
        (g, min(t.start_s for t in ts), max(t.end_s for t in ts))
        for g, ts in sorted(by_group.items())
    ]
    assert sorted(_batches_seen(events)) == expected
    if adaptive:
        assert len({len(ts) for ts in by_group.values()}) > 1  # the sizes really changed


def test_a_resumed_batch_is_reported_when_its_missing_scenes_are_done(tmp_path: Path) -> None:
    from storygen import RunFailedError, RunStore, resume

    request = ScriptRequest(idea="A heist", duration_s=80, strategy="batched", concurrency=5)
    with pytest.raises(RunFailedError) as info:
        generate(
            request,
            SimulatedBackend(time_scale=FAST, fail_scenes={3}),
            store=RunStore(tmp_path),
        )
    events: list[object] = []
    resume(
        Path(info.value.run_dir or ""),
        SimulatedBackend(time_scale=FAST),
        subscribers=[events.append],
    )
    assert [g for g, _, _ in _batches_seen(events)] == [1, 2]  # batch 1 had only scene 3 left
