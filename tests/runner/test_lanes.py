"""The one lane runner: turns bound how many lanes write at once, a lane takes its run's
lock before it reads what is done, and a lane that never reached the engine still closes
its backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import FAST

from storygen import RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.core.errors import RunLockedError
from storygen.runner.lanes import LaneRun, Lanes, run_lane

REQUEST = ScriptRequest(idea="A heist in a lighthouse", duration_s=40)  # 5 scenes


async def test_at_most_at_once_lanes_hold_a_turn_and_the_first_go_first() -> None:
    lanes = Lanes(2)
    holding: list[int] = []
    most = 0
    started: list[int] = []

    async def lane(i: int) -> int:
        nonlocal most
        async with lanes.turn():
            started.append(i)
            holding.append(i)
            most = max(most, len(holding))
            await asyncio.sleep(0.001)
            holding.remove(i)
        return i

    assert await Lanes.gather(lane(i) for i in range(6)) == list(range(6))
    assert most == 2 and started == list(range(6))


async def test_without_a_limit_every_lane_has_its_turn_at_once() -> None:
    lanes = Lanes()
    both = asyncio.Barrier(2)

    async def lane() -> None:
        async with lanes.turn():
            await asyncio.wait_for(both.wait(), 5)  # would time out if one lane waited

    await Lanes.gather([lane(), lane()])


async def test_a_resumed_lane_writes_only_what_its_run_is_missing(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_dir = store.create(REQUEST, SimulatedBackend(time_scale=FAST).settings())
    first = generate(REQUEST, SimulatedBackend(time_scale=FAST), run_dir=run_dir)
    (run_dir.path / "script.json").unlink()
    run_dir.set_status("interrupted")
    script = await run_lane(
        LaneRun(REQUEST, SimulatedBackend(time_scale=FAST), store.open(run_dir.run_id), resume=True)
    )
    assert [s.index for s in script.scenes] == [s.index for s in first.scenes]
    assert script.meta.timeline == first.meta.timeline  # every scene came from the checkpoint


class _Closing(SimulatedBackend):
    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_a_lane_whose_run_is_locked_fails_clearly_and_closes_its_backend(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path)
    run_dir = store.create(REQUEST, SimulatedBackend(time_scale=FAST).settings())
    backend = _Closing(time_scale=FAST)
    lane = LaneRun(REQUEST, backend, store.open(run_dir.run_id), resume=True)
    # another writer holds the run (the CLI resuming it)
    with run_dir.writer(), pytest.raises(RunLockedError):
        await run_lane(lane)
    assert backend.closed
