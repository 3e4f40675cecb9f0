"""A compute-bound serve-sim: its slots share one compute (processor sharing), so total
throughput rises little with calls in flight. Checked by the server's own accounting
(each call's solo work and the time it actually held its slot) and by lower bounds that
no slowness can break."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import Serve
from openai import AsyncOpenAI

from storygen import SceneTask, ScriptRequest
from storygen.core.prompts import scene_prompt
from storygen.sim import RunningServer, SimServerConfig
from storygen.sim.compute import ComputeShare

KEY = "sk-compute-0123456789abcdef"
REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)


def body(k: int, **extra: Any) -> dict[str, Any]:
    prompt = scene_prompt(SceneTask(REQUEST, k, 75, 8.0))
    return {"model": "storygen-sim-1", "messages": [{"role": "user", "content": prompt}], **extra}


def call_at_once(server: RunningServer, n: int, **extra: Any) -> float:
    """n calls sent together (streamed or not); the seconds until the last is read."""

    async def one(client: AsyncOpenAI, k: int) -> None:
        answer = await client.chat.completions.create(**body(k, **extra))
        if extra.get("stream"):
            _ = [chunk async for chunk in answer]  # type: ignore[union-attr]

    async def run() -> float:
        client = AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=30)
        began = time.monotonic()
        try:
            await asyncio.gather(*(one(client, k) for k in range(1, n + 1)))
        finally:
            await client.close()
        return time.monotonic() - began

    return asyncio.run(run())


def test_calls_on_a_shared_compute_each_take_n_over_the_gain_times_their_work(
    serve: Serve,
) -> None:
    """Four equal calls on four slots with a gain of 1.5: each advances at 1.5/4 of its
    solo speed, so each holds its slot about 4/1.5 times its work, and all four together
    cannot finish before their total work / 1.5."""
    server = serve(time_scale=0.02, sigma=0.0, capacity=4, compute_bound=True, compute_gain=1.5)
    took = call_at_once(server, 4)
    seen = server.state.requests
    work = seen[0].work_s
    assert all(r.status == 200 and r.work_s == pytest.approx(work) for r in seen)
    assert took >= 4 * work / 1.5 * 0.97
    for r in seen:  # the stagger of arrivals aside, a call shares with all the others
        assert 4 / 1.5 * work * 0.85 <= r.served_s <= 4 / 1.5 * work * 1.6
    assert server.state.max_in_service == 4


def test_the_same_calls_on_slots_of_their_own_take_their_work(serve: Serve) -> None:
    server = serve(time_scale=0.02, sigma=0.0, capacity=4)
    call_at_once(server, 4)
    for r in server.state.requests:
        assert r.work_s <= r.served_s + 0.002 and r.served_s < r.work_s * 1.6


def test_streamed_chunks_follow_the_shared_compute(serve: Serve) -> None:
    server = serve(time_scale=0.02, sigma=0.0, capacity=4, compute_bound=True, compute_gain=1.0)
    took = call_at_once(server, 3, stream=True)
    work = server.state.requests[0].work_s
    assert took >= 3 * work * 0.97  # a gain of 1: three calls take three calls' time
    assert all(r.streamed and r.served_s >= 2 * work for r in server.state.requests)


def test_a_lone_call_runs_at_its_solo_speed(serve: Serve) -> None:
    server = serve(time_scale=0.02, sigma=0.0, capacity=4, compute_bound=True)
    call_at_once(server, 1)
    [r] = server.state.requests
    assert r.work_s <= r.served_s + 0.002 and r.served_s < r.work_s * 1.6


def test_the_share_is_recomputed_when_a_call_leaves() -> None:
    """Two calls of 100 and 200 ms on a gain of 1: together at half speed until the short
    one is done (at 200 ms), then the long one alone: it ends at 300 ms, not 400 (as it
    would if it kept the half speed it was told when it began to wait)."""

    async def run() -> list[float]:
        share = ComputeShare(1.0)
        began = time.monotonic()

        async def call(work_s: float) -> float:
            pace = share.pace(work_s)
            try:
                await pace.until(1.0)
            finally:
                pace.close()
            return time.monotonic() - began

        return list(await asyncio.gather(call(0.1), call(0.2)))

    short, long = asyncio.run(run())
    assert 0.2 * 0.97 <= short < long and 0.3 * 0.97 <= long < 0.38


def test_compute_gain_is_bounded() -> None:
    with pytest.raises(ValueError, match="compute_gain must be between 1 and 1000"):
        SimServerConfig(compute_bound=True, compute_gain=0.5)
