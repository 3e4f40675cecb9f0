"""A spend cap shared by many runs under one budget of calls in flight (a bulk run) is kept
exactly: a call that waited for its slot while other runs spent the cap is never sent.

Over real HTTP against serve-sim with a priced model. The calls holding the budget's slots
are held until every other run's first call waits behind them, so the cap is always spent
while they wait: the test decides that order by state, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import PAID_KEY, PRICED_MODEL, Serve, fast_policy

from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.models import Bible, SceneDraft, ScriptRequest
from storygen.core.spend import SpendCap, SpendCapReached
from storygen.core.tasks import Generation, SceneTask, StreamEvents
from storygen.policies.budget import Budget
from storygen.runner.lanes import LaneRun, Lanes, run_lane
from storygen.store import RunStore

KEY, MODEL = PAID_KEY, PRICED_MODEL
RUNS, IN_FLIGHT = 12, 3
REQUEST = ScriptRequest(idea="A robot paints", duration_s=24, strategy="sequential")  # 3 scenes


class Waiters(Budget):
    """The real shared budget; ``crowded`` is set once ``crowd`` calls wait for a slot."""

    def __init__(self, limit: int, crowd: int) -> None:
        super().__init__(limit)
        self.waiting, self.crowd = 0, crowd
        self.crowded = asyncio.Event()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.waiting += 1
        if self.waiting >= self.crowd:
            self.crowded.set()
        async with super().slot():
            self.waiting -= 1
            yield


class Held(OpenAIBackend):
    """serve-sim through the openai SDK; a call holding its slot is sent only once the
    budget was crowded."""

    def __init__(self, config: BackendConfig, budget: Waiters) -> None:
        super().__init__(config)
        self.budget = budget

    async def write_bible(
        self, request: ScriptRequest, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[Bible]:
        await self.budget.crowded.wait()
        return await super().write_bible(request, attempt=attempt, feedback=feedback, hedge=hedge)

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        await self.budget.crowded.wait()
        return await super().write_scene(
            task, attempt=attempt, feedback=feedback, hedge=hedge, events=events
        )


pytestmark = pytest.mark.usefixtures("paid_key")


async def _write_all(lanes: list[LaneRun], backend: OpenAIBackend) -> list[str]:
    """Each lane's outcome: "interrupted" when the cap stopped it."""

    async def one(lane: LaneRun) -> str:
        try:
            await run_lane(lane)
        except SpendCapReached:
            return "interrupted"
        return "finished"

    try:
        return await Lanes.gather(one(lane) for lane in lanes)
    finally:
        await backend.aclose()  # shared by every lane


def _capped(
    request: ScriptRequest, config: BackendConfig, tmp_path: Path
) -> tuple[list[LaneRun], Held]:
    """RUNS runs of ``request`` under one budget and one tiny cap, as a bulk run's rows."""
    # the calls holding a slot wait until every other run's first call waits for one
    budget = Waiters(IN_FLIGHT, crowd=RUNS - IN_FLIGHT)
    backend = Held(config, budget)
    cap = SpendCap(0.000001, MODEL)  # the first answer spends it
    store = RunStore(tmp_path)
    lanes = [
        LaneRun(
            request,
            backend,
            store.create(request, {}),
            policy=fast_policy(),
            budget=budget,
            close_backend=False,
            spend=cap,
        )
        for _ in range(RUNS)
    ]
    return lanes, backend


@pytest.mark.parametrize("bible", [False, True], ids=["scene", "story bible"])
def test_calls_waiting_for_a_slot_when_the_cap_is_spent_are_never_sent(
    serve: Serve, tmp_path: Path, bible: bool
) -> None:
    server = serve()
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model=MODEL, api_keys=[KEY]
    )
    request = REQUEST.model_copy(update={"bible": bible})
    lanes, held = _capped(request, config, tmp_path)
    outcomes = asyncio.run(_write_all(lanes, held))

    # only the calls that held a slot when the cap was spent were made: the other runs'
    # first calls got their slot afterwards and were never sent
    assert len(server.state.requests) == IN_FLIGHT
    assert outcomes == ["interrupted"] * RUNS
    runs = [lane.run_dir for lane in lanes if lane.run_dir is not None]
    assert {run.status()["status"] for run in runs} == {"interrupted"}
    kept = sum(len(run.load_checkpoint()) for run in runs)
    assert kept == (0 if bible else IN_FLIGHT)  # every scene paid for was kept

    # resumed without a cap, every run finishes, and no call is made twice
    backend = OpenAIBackend(config)
    again = [
        LaneRun(lane.request, backend, lane.run_dir, resume=True, policy=fast_policy(),
                close_backend=False)
        for lane in lanes
    ]  # fmt: skip
    assert asyncio.run(_write_all(again, backend)) == ["finished"] * RUNS
    assert len(server.state.requests) == RUNS * (REQUEST.scene_count + bible)
