"""serve-sim streams as OpenAI does, through the real openai SDK over real HTTP: the same
text as a plain answer, the chunks in OpenAI's order, the call's drawn timing, a client
that leaves mid-stream, and a server that cannot stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import openai
import pytest
from conftest import Serve
from openai import AsyncOpenAI

from storygen import SceneTask, ScriptRequest
from storygen.backends.simulated import first_token_share, summary_share
from storygen.core.prompts import SYSTEM, scene_prompt
from storygen.sim import RunningServer
from storygen.sim.chat import complete_chat, read_chat

KEY = "sk-stream-0123456789abcdef"
MODEL = "storygen-sim-1"
REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)
T = TypeVar("T")


def messages(k: int = 3) -> list[dict[str, str]]:
    prompt = scene_prompt(SceneTask(REQUEST, k, 75, 8.0))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def body(k: int = 3, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": messages(k), "seed": REQUEST.seed, **extra}


def with_client(server: RunningServer, use: Callable[[AsyncOpenAI], Awaitable[T]]) -> T:
    async def run() -> T:
        client = AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=10)
        try:
            return await use(client)
        finally:
            await client.close()

    return asyncio.run(run())


def expected(k: int = 3) -> str:
    """The plain answer's text, as serve-sim writes it (the first attempt)."""
    answer = complete_chat(read_chat(body(k)), "ok", "chatcmpl-x", 0)
    content: str = answer["choices"][0]["message"]["content"]
    return content


async def plain_content(client: AsyncOpenAI, k: int = 3) -> str:
    answer = await client.chat.completions.create(**body(k))
    return answer.choices[0].message.content or ""


async def chunks_of(client: AsyncOpenAI, k: int = 3, **extra: Any) -> list[Any]:
    stream = await client.chat.completions.create(**body(k, stream=True, **extra))
    return [chunk async for chunk in stream]


def joined(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def raw_events(server: RunningServer, payload: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    """The SSE ``data:`` lines exactly as sent."""
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            f"{server.url}/chat/completions",
            json=payload,
            headers={"authorization": f"Bearer {KEY}"},
        ) as response,
    ):
        text = "".join(response.iter_text())
    return response, [e.removeprefix("data: ") for e in text.split("\n\n") if e]


# --- the stream itself ----------------------------------------------------------------


def test_joined_deltas_are_the_plain_answer_and_usage_comes_last(serve: Serve) -> None:
    server = serve()

    async def use(client: AsyncOpenAI) -> tuple[str, Any, list[Any]]:
        plain = await client.chat.completions.create(**body())
        chunks = await chunks_of(client, stream_options={"include_usage": True})
        return plain.choices[0].message.content or "", plain.usage, chunks

    content, usage, chunks = with_client(server, use)
    assert joined(chunks) == content
    first, *middle, finish, tail = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    assert all(c.choices[0].delta.content for c in middle)  # a few characters each
    assert max(len(c.choices[0].delta.content) for c in middle) <= 16
    assert finish.choices[0].finish_reason == "stop" and not finish.choices[0].delta.content
    assert tail.choices == [] and tail.usage == usage
    assert {(c.id, c.created, c.model, c.object) for c in chunks} == {
        (first.id, first.created, MODEL, "chat.completion.chunk")
    }
    [seen] = server.state.attempts("scene3")[1:]
    assert seen.streamed and seen.status == 200 and seen.finish_reason == "stop"
    assert seen.sent_tokens == usage.completion_tokens


def test_the_raw_events_say_usage_null_until_the_usage_chunk_then_done(serve: Serve) -> None:
    server = serve()
    response, events = raw_events(server, body(stream=True, stream_options={"include_usage": True}))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_without_include_usage_there_is_no_usage_chunk(serve: Serve) -> None:
    server = serve()
    _, events = raw_events(server, body(stream=True))
    chunks = [json.loads(e) for e in events[:-1]]
    assert events[-1] == "[DONE]" and all(c["choices"] and "usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_delta_ends_just_where_the_summary_closes(serve: Serve) -> None:
    """So a client knows the summary exactly when the in-process simulator says."""
    server = serve()
    chunks = with_client(server, chunks_of)
    content = joined(chunks)
    summary_end = round(summary_share(content) * len(content))
    assert content[:summary_end].endswith('"') and '"summary"' in content[:summary_end]
    ends, at = set(), 0
    for c in chunks[1:]:
        if c.choices and c.choices[0].delta.content:
            at += len(c.choices[0].delta.content)
            ends.add(at)
    assert summary_end in ends


def test_a_streamed_call_takes_its_drawn_latency_with_the_first_token_after_its_share(
    serve: Serve,
) -> None:
    scale = 0.02  # a median call of 160 ms
    server = serve(time_scale=scale)
    with_client(server, chunks_of)
    [seen] = server.state.requests
    lead = first_token_share(REQUEST.seed, "scene3", 1)
    assert seen.first_token_s is not None
    assert seen.first_token_s >= lead * seen.work_s * 0.95
    assert seen.work_s <= seen.served_s < seen.work_s + 2.0  # generous: a loaded machine
    assert seen.first_token_s < seen.served_s


def test_a_client_that_leaves_mid_stream_frees_its_slot_and_is_counted_cancelled(
    serve: Serve,
) -> None:
    """A hung call streams its first token after seconds; the client reads the role
    chunk's headers, gives up, and the one slot serves the next call at once."""
    server = serve(time_scale=0.01, hang_rate=1.0, hang_factor=1000, capacity=1)

    async def use(client: AsyncOpenAI) -> str:
        stream = await client.chat.completions.create(**body(stream=True))
        await stream.close()  # headers came (service began); no token yet
        for _ in range(500):
            if server.state.cancelled == 1 and server.state.in_service == 0:
                break
            await asyncio.sleep(0.01)
        return str(server.state.cancelled)

    assert with_client(server, use) == "1"
    [seen] = server.state.requests
    assert seen.cancelled and seen.streamed and seen.first_token_s is None
    assert server.state.in_service == 0 and seen.served_s < 5


# --- faults before and during the stream ------------------------------------------------


def test_a_429_is_answered_before_any_stream_starts(serve: Serve) -> None:
    server = serve(script={"scene3": ["429:0.5"]})
    with pytest.raises(openai.RateLimitError) as caught:
        with_client(server, chunks_of)
    assert caught.value.response.headers["retry-after"] == "0.5"
    [seen] = server.state.requests
    assert seen.status == 429 and not seen.streamed


def test_a_cut_connection_ends_the_stream_with_an_error_and_no_finish(serve: Serve) -> None:
    server = serve(script={"scene3": ["cut:0.5"]})
    got: list[Any] = []

    async def use(client: AsyncOpenAI) -> None:
        stream = await client.chat.completions.create(**body(stream=True))
        async for chunk in stream:
            got.append(chunk)

    with pytest.raises(openai.APIConnectionError):
        with_client(server, use)
    full, text = expected(), joined(got)
    assert full.startswith(text) and abs(len(text) - len(full) / 2) <= 1
    assert all(c.choices[0].finish_reason is None for c in got)
    [seen] = server.state.requests
    assert seen.status == 0 and seen.finish_reason is None and seen.fault == "cut:0.5"


def test_a_bad_chunk_mid_stream_is_not_json_to_the_client(serve: Serve) -> None:
    server = serve(script={"scene3": ["badchunk:0.3"]})
    with pytest.raises(json.JSONDecodeError):
        with_client(server, chunks_of)
    _, events = raw_events(server, body(stream=True))  # attempt 1 again: the same fault
    assert "{not json" in events and events[-1] == "[DONE]"


def test_a_stall_sends_nothing_for_slow_s_then_the_rest(serve: Serve) -> None:
    """A client with a short read timeout gives up; a patient one gets the whole answer."""
    server = serve(script={"scene3": ["stall:0.4"]}, slow_s=0.6)

    async def impatient(client: AsyncOpenAI) -> list[Any]:
        return await chunks_of(client, timeout=0.2)

    with pytest.raises(openai.APITimeoutError):
        with_client(server, impatient)

    async def patient(client: AsyncOpenAI) -> tuple[str, list[Any]]:
        return await plain_content(client, 4), await chunks_of(client)

    server.config.script["scene4"] = []
    _, chunks = with_client(server, patient)
    assert chunks[-1].choices[0].finish_reason == "stop"
    stalled = server.state.attempts("scene3")[-1]
    assert stalled.served_s >= 0.6 and stalled.finish_reason == "stop"


@pytest.mark.parametrize(("fault", "filler"), [("runaway", "   \n  "), ("loop", "and the light, ")])
def test_a_runaway_streams_its_filler_until_max_tokens_and_ends_with_length(
    serve: Serve, fault: str, filler: str
) -> None:
    server = serve(script={"scene3": [f"{fault}:0.4"]})
    extra = {"max_tokens": 300, "stream_options": {"include_usage": True}}
    full, chunks = expected(), with_client(server, lambda c: chunks_of(c, **extra))
    text = joined(chunks)
    head = round(0.4 * len(full))
    assert text.startswith(full[:head]) and not text.startswith(full)
    tail = text[head:]
    assert tail == filler * (len(tail) // len(filler)) and len(tail) > 500
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 300
    [seen] = server.state.requests
    assert seen.finish_reason == "length" and seen.sent_tokens == pytest.approx(300, abs=3)
    # it ran on past the drawn latency, at the text's own pace
    assert seen.served_s > seen.work_s


def test_a_runaway_rate_runs_away_streamed_calls_only(serve: Serve) -> None:
    server = serve(runaway_rate=1.0)

    async def use(client: AsyncOpenAI) -> tuple[str, list[Any]]:
        return await plain_content(client), await chunks_of(client, max_tokens=200)

    full, chunks = with_client(server, use)
    assert json.loads(full)["summary"]  # the plain answer is whole
    assert chunks[-1].choices[0].finish_reason == "length"
    assert [r.fault for r in server.state.requests] == ["ok", "runaway"]


def test_a_plain_call_scripted_to_run_away_is_one_long_answer_cut_off(serve: Serve) -> None:
    server = serve(script={"scene3": ["loop:0.5"]})

    async def use(client: AsyncOpenAI) -> Any:
        return await client.chat.completions.create(**body(max_tokens=200))

    answer = with_client(server, use)
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 200
    assert answer.choices[0].message.content.endswith("and the light, ")


# --- a server that cannot stream --------------------------------------------------------


def test_a_server_that_cannot_stream_refuses_naming_the_parameter(serve: Serve) -> None:
    server = serve(streaming=False)
    with pytest.raises(openai.BadRequestError) as caught:
        with_client(server, chunks_of)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "stream" and "stream is not supported" in error["message"]
    assert with_client(server, plain_content)  # a plain call is answered
    assert [r.status for r in server.state.requests] == [400, 200]
