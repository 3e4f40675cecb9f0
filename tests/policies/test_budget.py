"""The budget shared by a bulk run's scripts: a hard cap, freed slots to the longest waiter."""

from __future__ import annotations

import asyncio

import pytest

from storygen.policies.budget import Budget


def test_a_freed_slot_goes_to_the_longest_waiter_and_the_cap_holds() -> None:
    async def scenario() -> list[int]:
        budget = Budget(1)
        order: list[int] = []
        at_once: list[int] = []
        release = asyncio.Event()

        async def holder() -> None:
            async with budget.slot():
                await release.wait()

        async def waiter(name: int) -> None:
            async with budget.slot():
                order.append(name)
                at_once.append(budget.in_flight)

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(waiter(p)) for p in (5, 3, 9, 3)]
        await asyncio.sleep(0)  # all four are waiting now, in that order
        assert budget.in_flight == 1
        release.set()
        await asyncio.gather(first, *waiters)
        assert budget.in_flight == 0 and budget.peak == 1 and at_once == [1, 1, 1, 1]
        return order

    # every script moves on at the same pace: arrival order, never more than one at once
    assert asyncio.run(scenario()) == [5, 3, 9, 3]


def test_a_waiter_cancelled_after_being_handed_a_slot_passes_it_on() -> None:
    async def scenario() -> tuple[int, list[str]]:
        budget = Budget(1)
        got: list[str] = []
        tasks: dict[str, asyncio.Task[None]] = {}
        release = asyncio.Event()

        async def holder() -> None:
            async with budget.slot():
                await release.wait()
            # the slot was just handed to "doomed", which has not run yet; it is
            # cancelled in this very step: the slot must go on to "later", not be lost
            tasks["doomed"].cancel()

        async def waiter(name: str) -> None:
            async with budget.slot():
                got.append(name)

        held = asyncio.create_task(holder())
        await asyncio.sleep(0)
        tasks["doomed"] = asyncio.create_task(waiter("doomed"))
        later = asyncio.create_task(waiter("later"))
        await asyncio.sleep(0)  # both wait for the slot now
        release.set()
        everyone = asyncio.gather(held, tasks["doomed"], later, return_exceptions=True)
        await asyncio.wait_for(everyone, 10)  # a lost slot would leave "later" waiting
        return budget.in_flight, got

    assert asyncio.run(scenario()) == (0, ["later"])


def test_the_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="between 1 and 10000"):
        Budget(0)


def test_the_limit_ends_at_ten_thousand_and_a_fresh_budget_has_sent_nothing() -> None:
    budget = Budget(10_000)
    assert (budget.limit, budget.peak, budget.in_flight) == (10_000, 0, 0)
    with pytest.raises(ValueError, match="got 10001"):
        Budget(10_001)
