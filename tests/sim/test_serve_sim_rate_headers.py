"""serve-sim's x-ratelimit-* headers, read off the very window its 429s come from, on plain
and streamed answers alike, as the real openai SDK receives them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import Serve
from openai import AsyncOpenAI, RateLimitError

from storygen import SceneTask, ScriptRequest
from storygen.core.prompts import scene_prompt
from storygen.core.rate_headers import RateHeaders, duration_s
from storygen.sim import RunningServer
from storygen.sim.rate_headers import go_duration

KEY = "sk-rates-0123456789abcdef"
REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)
SCALE = 0.02  # the one-minute window lasts 1.2 s


def body(k: int, **extra: Any) -> dict[str, Any]:
    prompt = scene_prompt(SceneTask(REQUEST, k, 75, 8.0))
    return {"model": "storygen-sim-1", "messages": [{"role": "user", "content": prompt}], **extra}


def headers_of(server: RunningServer, calls: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each call's response headers, one after the other (429s included)."""

    async def run() -> list[dict[str, str]]:
        client = AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=10)
        seen: list[dict[str, str]] = []
        try:
            for call in calls:
                try:
                    raw = await client.chat.completions.with_raw_response.create(**call)
                except RateLimitError as refused:
                    seen.append(dict(refused.response.headers))
                    continue
                answer = raw.parse()
                if call.get("stream"):
                    _ = [chunk async for chunk in answer]  # type: ignore[union-attr]
                seen.append(dict(raw.headers))
        finally:
            await client.close()
        return seen

    return asyncio.run(run())


def test_remaining_falls_call_by_call_and_a_429_says_none_is_left(serve: Serve) -> None:
    server = serve(time_scale=SCALE, rpm=3)
    calls = [body(1), body(2, stream=True), body(3), body(4)]
    raw = headers_of(server, calls)
    seen = [RateHeaders.parse(h) for h in raw]
    rates = [s for s in seen if s is not None]
    assert len(rates) == 4
    assert [r.limit_requests for r in rates] == [3, 3, 3, 3]
    assert [r.remaining_requests for r in rates] == [2, 1, 0, 0]
    for r in rates:
        assert r.reset_requests_s is not None and 0 < r.reset_requests_s <= 60 * SCALE
    assert [r.status for r in server.state.requests] == [200, 200, 200, 429]
    # the 429's reset is its Retry-After: when the oldest request leaves the window
    assert rates[-1].reset_requests_s == pytest.approx(float(raw[-1]["retry-after"]), abs=0.002)


def test_no_rpm_or_turned_off_means_no_headers(serve: Serve) -> None:
    for server in (serve(), serve(rpm=100, rate_headers=False)):
        [plain, streamed] = headers_of(server, [body(1), body(2, stream=True)])
        assert RateHeaders.parse(plain) is None and RateHeaders.parse(streamed) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.0204, "21ms"), (0.999, "999ms"), (1.5, "1.5s"), (360, "6m0s"),
     (3723.5, "1h2m3.5s")],
)  # fmt: skip
def test_durations_are_written_as_openai_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
    parsed = duration_s(text)
    assert parsed is not None and seconds <= parsed < seconds + 0.001 + 1e-9
