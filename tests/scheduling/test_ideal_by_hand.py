"""The ideal makespan against schedules worked out by hand, and the summary's ideal against
the call times a run really met (its service times, not its wall times).

Six scenes with call times 5, 1, 3, 2, 4 and 0.5 s (no two ends coincide):

    sequential       5 + 1 + 3 + 2 + 4 + 0.5                            = 15.5
    batched(2)       max(5, 1) + max(3, 2) + max(4, 0.5) = 5 + 3 + 4       = 12
    windowed(2, A=3) t=0: 1 (ends 5), 2 (ends 1); t=1: 3 (ends 4);
                     t=4: 4 waits for scene 1 (k - A = 1);
                     t=5: 1 done, 4 (ends 7) and 5 (ends 9); t=7: 6 (ends 7.5) = 9
    windowed(2, A=2) t=0: 1 (5), 2 (1); t=1: 3 waits for scene 1;
                     t=5: 3 (8), 4 (7); t=7: 5 waits for scene 3;
                     t=8: 5 (12), 6 (8.5)                                   = 12
    outline(2)       the outline, then a window of two with no other rule:
                     t=0: 1 (5), 2 (1); t=1: 3 (4); t=4: 4 (6); t=5: 5 (9);
                     t=6: 6 (6.5)                                           = outline + 9
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FAST, FaultyBackend, fast_policy

from storygen import (
    Generation,
    RunStore,
    SceneTask,
    ScriptRequest,
    TransientError,
    generate,
)
from storygen.analysis.frames import summary_frame
from storygen.backends.simulated import draw_latency
from storygen.core.models import SceneDraft, Script
from storygen.engine.events import Event, SceneRetrying
from storygen.policies.limits import KeyPool
from storygen.scheduling.scheduler import ideal_makespan
from storygen.scheduling.strategies import Batched, OutlineFirst, Sequential, Windowed

SERVICE = {1: 5.0, 2: 1.0, 3: 3.0, 4: 2.0, 5: 4.0, 6: 0.5}


def test_sequential_is_the_sum_of_the_calls() -> None:
    assert ideal_makespan(Sequential(), SERVICE) == pytest.approx(15.5)


def test_batched_waits_for_each_batchs_slowest_call() -> None:
    assert ideal_makespan(Batched(2), SERVICE) == pytest.approx(12.0)
    assert ideal_makespan(Batched(3), SERVICE) == pytest.approx(5.0 + 4.0)
    assert ideal_makespan(Batched(6), SERVICE) == pytest.approx(5.0)


def test_windowed_keeps_two_in_flight_within_the_lag_allowance() -> None:
    assert ideal_makespan(Windowed(2, lag_allowance=3), SERVICE) == pytest.approx(9.0)
    assert ideal_makespan(Windowed(2, lag_allowance=2), SERVICE) == pytest.approx(12.0)


def test_windowed_with_allowance_one_is_sequential() -> None:
    assert ideal_makespan(Windowed(2, lag_allowance=1), SERVICE) == pytest.approx(15.5)


def test_outline_first_adds_the_outline_call_to_a_free_window() -> None:
    assert ideal_makespan(OutlineFirst(2), SERVICE, outline_s=2.5) == pytest.approx(11.5)
    assert ideal_makespan(OutlineFirst(2), SERVICE, outline_s=0.0) == pytest.approx(9.0)
    assert ideal_makespan(OutlineFirst(6), SERVICE, outline_s=2.5) == pytest.approx(7.5)


def test_the_outline_time_counts_only_for_strategies_that_write_one() -> None:
    assert ideal_makespan(Batched(2), SERVICE, outline_s=2.5) == pytest.approx(12.0)


def test_a_resumed_run_schedules_only_the_missing_scenes() -> None:
    """Scenes 1 and 4 were written before: batches {2}, {3}, {5, 6} remain."""
    missing = {k: v for k, v in SERVICE.items() if k not in (1, 4)}
    assert ideal_makespan(Batched(2), missing, done=[1, 4]) == pytest.approx(1.0 + 3.0 + 4.0)
    assert ideal_makespan(Sequential(), missing, done=[1, 4]) == pytest.approx(8.5)


# --- a real run: the summary's ideal comes from the service times ----------------------


class OneKeyBackend(FaultyBackend):
    """The simulated model behind a single key that serves one call at a time (a real
    KeyPool): scenes queue inside the backend, so their wall time exceeds their call time."""

    def __init__(self, faults: dict[tuple[int, int], Callable[[], Exception]]) -> None:
        super().__init__(faults, time_scale=FAST)
        self.pool = KeyPool(size=1, per_key_concurrency=1)

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        async with self.pool.key():
            return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


def _run(tmp_path: Path, strategy: str, concurrency: int) -> tuple[Script, list[Event]]:
    """Six scenes; scene 2's first attempt meets a 503 and is retried after a backoff."""
    events: list[Event] = []
    request = ScriptRequest(
        idea="A cartographer maps a city that moves at night",
        duration_s=48,  # 6 scenes
        strategy=strategy,  # type: ignore[arg-type]
        concurrency=concurrency,
        seed=11,
    )
    backend = OneKeyBackend({(2, 1): lambda: TransientError("503 from the provider")})
    script = generate(
        request,
        backend,
        store=RunStore(tmp_path),
        policy=fast_policy(),
        subscribers=[events.append],
    )
    return script, events


def _drawn(script: Script, k: int, attempt: int) -> float:
    """The call time the simulated model drew for scene k's attempt (scaled)."""
    return draw_latency(script.request.seed, f"scene{k}", attempt) * FAST


def test_each_scene_records_its_call_time_not_its_queueing(tmp_path: Path) -> None:
    script, events = _run(tmp_path, "batched", 3)
    timing = {t.index: t for t in script.meta.timeline}
    assert [e.index for e in events if isinstance(e, SceneRetrying)] == [2]
    assert timing[2].attempts == 2
    for k in (1, 3, 4, 5, 6):
        assert timing[k].attempts == 1
        assert timing[k].service_s == pytest.approx(_drawn(script, k, 1))
    # the retried scene's call time: the backoff and the second attempt's drawn latency
    assert timing[2].service_s >= _drawn(script, 2, 2)
    # one key serves one call at a time, so batched(3) queues: wall time exceeds call time
    queued = sum(1 for t in timing.values() if t.end_s - t.start_s > t.service_s * 1.5)
    assert queued >= 2


@pytest.mark.parametrize(("strategy", "concurrency"), [("batched", 3), ("sequential", 1)])
def test_the_summary_ideal_is_the_schedule_of_the_service_times(
    tmp_path: Path, strategy: str, concurrency: int
) -> None:
    script, _ = _run(tmp_path, strategy, concurrency)
    service = [t.service_s for t in script.meta.timeline]
    wall = [t.end_s - t.start_s for t in script.meta.timeline]
    if strategy == "batched":  # by hand: each batch's slowest call, batch after batch
        expected = max(service[0:3]) + max(service[3:6])
        from_wall = max(wall[0:3]) + max(wall[3:6])
    else:
        expected, from_wall = math.fsum(service), math.fsum(wall)
    row = summary_frame([script], baseline="estimated").iloc[0]
    assert row["ideal_makespan_s"] == pytest.approx(expected, rel=1e-9)
    assert row["measured_over_ideal"] == pytest.approx(script.meta.wall_time_s / expected)
    if strategy == "batched":  # the queueing makes the wall-time schedule clearly longer
        assert from_wall > expected * 1.3


def test_the_summary_ideal_includes_the_outline_call(tmp_path: Path) -> None:
    script, _ = _run(tmp_path, "outline", 6)
    meta = script.meta
    assert meta.outline_start_s is not None and meta.outline_end_s is not None
    outline_s = meta.outline_end_s - meta.outline_start_s
    assert outline_s > 0
    # by hand: after the outline, all six may run at once; the slowest call ends the run
    expected = outline_s + max(t.service_s for t in meta.timeline)
    row = summary_frame([script], baseline="estimated").iloc[0]
    assert row["ideal_makespan_s"] == pytest.approx(expected, rel=1e-9)
