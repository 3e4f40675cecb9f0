"""Hedging holds off while the server is saturated: a backup there competes with its own
primary. A hung call among ordinary ones is not saturation."""

from __future__ import annotations

import asyncio

from storygen.core.models import HedgeSettings, SceneDraft
from storygen.core.tasks import Generation
from storygen.policies.hedging import EARLY, INFLATED, RECENT, Hedger


def hedger(samples: list[float]) -> Hedger:
    h = Hedger(HedgeSettings(after_s=0.02, budget=0.5), planned_calls=100)
    for s in samples:
        h.samples.append(s)
    return h


def test_call_times_inflated_well_above_their_early_level_mean_saturated() -> None:
    early = [0.1] * EARLY
    assert not hedger(early).saturated()
    assert hedger(early + [0.1 * INFLATED * 1.2] * RECENT).saturated()
    assert not hedger(early + [0.1 * INFLATED * 0.9] * RECENT).saturated()


def test_a_hung_call_among_ordinary_ones_is_not_saturation() -> None:
    calls = [0.1] * EARLY + [0.1] * (RECENT - 1) + [3.0]
    assert not hedger(calls).saturated()


def test_too_few_answers_say_nothing() -> None:
    assert not hedger([0.1, 5.0, 5.0]).saturated()


async def answer_after(seconds: float) -> Generation[SceneDraft]:
    await asyncio.sleep(seconds)
    return Generation(SceneDraft.model_construct(), 1, 1)


async def test_no_backup_starts_while_saturated_and_one_does_when_not() -> None:
    """The delay is 20 ms and the primary takes 150 ms: a backup is due either way."""
    started: list[int] = []

    def make(n: int):  # type: ignore[no-untyped-def]
        started.append(n)
        return answer_after(0.15 if n == 0 else 0.01)

    busy = hedger([0.1] * EARLY + [0.1 * INFLATED * 2] * RECENT)
    answer = await busy.call(make)
    assert answer.backups == 0 and started == [0]

    started.clear()
    calm = hedger([0.1] * (EARLY + RECENT))
    answer = await calm.call(make)
    assert answer.backups >= 1 and started[:2] == [0, 1]
