"""The small objects the loop asks: admission layers, limits, attempts, sinks, the context.

The loop's behaviour is pinned by the run tests; these pin each object's own contract, so
that a policy which is off stays a null object and the order of the layers stays visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from storygen import Generation, Outline, Scene, SceneTask, ScriptRequest, SimulatedBackend
from storygen.core.models import AdaptiveSettings, HedgeSettings, SceneDraft
from storygen.core.tasks import scene_context
from storygen.engine.admission import (
    AdaptiveLimit,
    FixedLimit,
    NoLayer,
    admission,
    concurrency_limit,
    through,
)
from storygen.engine.attempts import PlainAttempt, Single, attempt_for
from storygen.engine.events import Event
from storygen.engine.scenes import SceneCalls
from storygen.engine.sinks import NullSink
from storygen.policies.budget import Budget
from storygen.policies.retry import RetryPolicy
from storygen.scheduling.strategies import strategy_for

REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=48, concurrency=2)


class Recording:
    """A layer that notes when it is entered and left."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.log.append(f"enter {self.name}")
        try:
            yield
        finally:
            self.log.append(f"leave {self.name}")


async def test_layers_are_passed_in_order_and_left_in_reverse_order() -> None:
    log: list[str] = []
    async with through([Recording("limit", log), NoLayer(), Recording("budget", log)]).slot():
        log.append("call")
    assert log == ["enter limit", "enter budget", "call", "leave budget", "leave limit"]


async def test_an_error_inside_leaves_every_layer_and_reaches_the_caller() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="boom"):
        async with through([Recording("limit", log), Recording("budget", log)]).slot():
            raise ValueError("boom")
    assert log == ["enter limit", "enter budget", "leave budget", "leave limit"]


def test_null_layers_cost_nothing() -> None:
    assert isinstance(through([FixedLimit(), NoLayer()]), NoLayer)
    budget = Budget(3)
    assert through([FixedLimit(), budget]) is budget


def test_a_primary_passes_the_limit_then_the_budget_a_backup_and_the_outline_the_budget() -> None:
    limit = AdaptiveLimit(AdaptiveSettings(), 4, time.monotonic, batches=False)
    budget = Budget(3)
    layers = admission(limit, budget)
    assert layers.primary == (limit, budget)
    assert layers.backup == (budget,)
    assert layers.outline == (budget,)


def test_without_a_budget_the_budget_is_a_null_layer() -> None:
    layers = admission(FixedLimit(), None)
    assert [type(layer) for layer in layers.primary] == [FixedLimit, NoLayer]
    assert [type(layer) for layer in layers.backup] == [NoLayer]


@pytest.mark.parametrize(
    ("strategy", "adaptive", "kind"),
    [
        ("sequential", True, FixedLimit),  # one at a time by definition: nothing to adapt
        ("batched", False, FixedLimit),
        ("batched", True, AdaptiveLimit),
        ("windowed", True, AdaptiveLimit),
        ("outline", True, AdaptiveLimit),
    ],
)
def test_the_limit_adapts_when_asked_and_the_strategy_can_be_sized(
    strategy: str, adaptive: bool, kind: type
) -> None:
    request = REQUEST.model_copy(update={"strategy": strategy})
    settings = AdaptiveSettings() if adaptive else None
    limit = concurrency_limit(settings, 4, strategy_for(request), time.monotonic)
    assert type(limit) is kind


def test_an_adaptive_limit_of_a_batched_run_sizes_whole_batches() -> None:
    batched = strategy_for(REQUEST.model_copy(update={"strategy": "batched"}))
    windowed = strategy_for(REQUEST.model_copy(update={"strategy": "windowed"}))
    for strategy, batches in ((batched, True), (windowed, False)):
        limit = concurrency_limit(AdaptiveSettings(), 4, strategy, time.monotonic)
        assert isinstance(limit, AdaptiveLimit) and limit.controller.batches is batches


def test_a_fixed_limit_hears_everything_and_changes_nothing() -> None:
    limit = FixedLimit()
    limit.start()
    assert limit.size is None and limit.started() == 0
    limit.answered(1.0, 0)
    limit.rate_limited(2.0)
    assert limit.trace() == []


def _draft(index: int) -> Generation[SceneDraft]:
    draft = SceneDraft(
        title=f"Scene {index}",
        location="Harbor",
        characters=["Ana"],
        camera="wide",
        visual_prompt="a harbor at dawn",
        narration="Ana looks at the sea.",
        summary=f"summary {index}",
    )
    return Generation(draft, 10, 20, latency_s=0.5)


class HungPrimary:
    """The primary never answers; a backup answers at once and notes what it passed."""

    name, model = "hung", "none"

    def __init__(self, limit: AdaptiveLimit, budget: Budget) -> None:
        self.limit, self.budget = limit, budget
        self.seen: list[tuple[int, int, int]] = []  # (hedge, gate slots held, budget in flight)

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        self.seen.append((hedge, self.limit.gate.active, self.budget.in_flight))
        if hedge == 0:
            await asyncio.Event().wait()
        return _draft(task.index)


async def test_a_backup_passes_the_budget_but_not_the_adaptive_gate() -> None:
    # a limit of one call: a backup that waited for the gate would wait for its own primary
    settings = AdaptiveSettings(start=1, min_concurrency=1)
    limit = AdaptiveLimit(settings, 1, time.monotonic, batches=False)
    budget = Budget(4)
    layers = admission(limit, budget)
    backend = HungPrimary(limit, budget)
    attempt = attempt_for(HedgeSettings(after_s=0.01, budget=1.0), backend, 1, layers.backup)
    events: list[Event] = []
    calls = SceneCalls(RetryPolicy(), layers.primary, limit, attempt, time.monotonic, events.append)
    task = SceneTask(REQUEST, 1, 6, 8.0)
    sent = await asyncio.wait_for(calls.send(task, time.monotonic()), timeout=5)
    assert backend.seen == [(0, 1, 1), (1, 1, 2)]  # the backup: one gate slot, two budget
    assert sent.answer.backups == 1 and sent.answer.backup_won
    assert limit.gate.active == 0 and budget.in_flight == 0  # every slot given back
    assert events == []  # no retry


async def test_a_plain_attempt_is_one_call_that_won() -> None:
    backend = SimulatedBackend(time_scale=0)
    answer = await PlainAttempt(backend)(SceneTask(REQUEST, 1, 6, 8.0), 1, None)
    assert isinstance(answer, Single)
    assert (answer.backups, answer.backup_won, answer.backup_after_s) == (0, False, None)


def test_a_single_call_takes_its_drawn_latency_else_the_engine_s_clock() -> None:
    assert Single(_draft(1)).took(measured=9.0) == 0.5
    undrawn = Generation(_draft(1).value, 10, 20)
    assert Single(undrawn).took(measured=9.0) == 9.0


async def test_a_null_sink_keeps_nothing() -> None:
    sink = NullSink()
    assert (sink.run_id, sink.path) == ("", None)
    with sink.writer():
        sink.mark("failed", "why", 0, 1.0)
    await sink.close()


def _scenes(upto: int) -> dict[int, Scene]:
    return {k: Scene.from_draft(_draft(k).value, k, 8.0) for k in range(1, upto + 1)}


def test_a_scene_is_told_the_last_summaries_up_to_where_its_strategy_says() -> None:
    context = scene_context(6, 4, _scenes(5), context_scenes=2, outline=None)
    assert context.previous == ((3, "summary 3"), (4, "summary 4"))
    assert context.outline is None and context.beat is None


def test_with_an_outline_a_scene_is_told_its_beat_and_its_neighbours() -> None:
    outline = Outline(title="The map", logline="A map.", characters=[], beats=["a", "b", "c"])
    first = scene_context(1, 0, {}, context_scenes=3, outline=outline)
    assert (first.previous, first.beat, first.previous_beat, first.next_beat) == (
        (),
        "a",
        None,
        "b",
    )
    last = scene_context(3, 0, {}, context_scenes=3, outline=outline)
    assert (last.beat, last.previous_beat, last.next_beat) == ("c", "b", None)
    assert last.outline is outline
