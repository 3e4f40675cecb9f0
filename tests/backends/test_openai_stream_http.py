"""Streamed answers through the real openai SDK over real HTTP against serve-sim.

What the client says it did is checked against what the server saw: the requests it was
sent (streamed or not, max_tokens), the tokens it wrote before the client went, and
whether the client closed the connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import openai
import pytest
from conftest import Serve, fast_policy

from storygen import generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.backends.openai_stream import Streamed, stream_answer
from storygen.backends.runaway import RunawayWatch
from storygen.core.answer_size import expected_tokens, token_limit
from storygen.core.errors import RunawayError, TransientError
from storygen.core.models import SceneDraft, ScriptRequest
from storygen.core.prompts import scene_prompt
from storygen.core.tasks import Generation, SceneTask, StreamEvents
from storygen.engine.events import Event, SceneRetrying
from storygen.sim import RunningServer

KEY = "sk-stream-0123456789"
REQUEST = ScriptRequest(idea="A robot learns to paint", duration_s=48)
SCENE_LIMIT = token_limit(expected_tokens("scene", "en", duration_s=8))


def backend(server: RunningServer, **kw: object) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model="storygen-sim-1", api_keys=[KEY], **kw
    )
    return OpenAIBackend(config)


class Told:
    """Every callback a backend made, in order."""

    def __init__(self, needed: bool = True) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.events = StreamEvents(
            needed=needed,
            first_token=lambda: self.calls.append(("first_token",)),
            summary=lambda s: self.calls.append(("summary", s)),
            unstreamed=lambda why: self.calls.append(("unstreamed", why)),
        )


def scene(
    b: OpenAIBackend, told: Told | None = None, k: int = 1, attempt: int = 1
) -> Generation[SceneDraft]:
    async def call() -> Generation[SceneDraft]:
        try:
            task = SceneTask(REQUEST, k, 6, 8.0)
            events = told.events if told else None
            return await b.write_scene(task, attempt=attempt, events=events)
        finally:
            await b.aclose()

    return asyncio.run(call())


def test_first_token_then_summary_then_the_answer_whose_summary_it_is(serve: Serve) -> None:
    server = serve(rpm=600)
    told = Told()
    gen = scene(backend(server), told)
    assert told.calls == [("first_token",), ("summary", gen.value.summary)]
    (seen,) = server.state.requests
    assert seen.streamed and seen.status == 200 and seen.finish_reason == "stop"
    assert seen.max_tokens == SCENE_LIMIT  # sized to a scene of 8 s, not a flat 1500
    assert gen.rate is not None and gen.rate.limit_requests == 600  # the stream's headers


def test_the_summary_is_told_while_the_answer_streams_and_usage_comes_last(serve: Serve) -> None:
    server = serve()
    told = Told()

    async def read() -> Streamed:
        client = openai.AsyncOpenAI(api_key=KEY, base_url=server.url, max_retries=0)
        b = backend(server)
        request = b.chat_body("scene", scene_prompt(SceneTask(REQUEST, 1, 6, 8.0)), seed=0)
        try:
            return await stream_answer(
                client,
                request,
                usage=True,
                events=told.events,
                watch=RunawayWatch(440),
                wants_summary=True,
                first_token_s=5,
                timeout_s=30,
                where=server.url,
            )
        finally:
            await client.close()

    streamed = asyncio.run(read())
    assert streamed.summary_told  # from the partial JSON, not from the finished answer
    assert streamed.usage is not None  # the usage chunk after the finish chunk
    (seen,) = server.state.requests
    assert abs(streamed.usage.completion_tokens - seen.sent_tokens) <= 1  # its own rounding
    assert streamed.usage.prompt_tokens == seen.prompt_tokens


def test_a_plain_run_does_not_stream_unless_asked(serve: Serve) -> None:
    server = serve()
    told = Told(needed=False)
    gen = scene(backend(server), told)
    assert told.calls == [("first_token",), ("summary", gen.value.summary)]  # at the end
    assert [r.streamed for r in server.state.requests] == [False]
    scene(backend(server, stream=True), Told(needed=False), k=2)
    scene(backend(server, stream=True), None, k=3)  # --stream streams without events too
    assert [r.streamed for r in server.state.requests] == [False, True, True]


def test_a_server_that_cannot_stream_answers_plain_and_says_why(serve: Serve) -> None:
    server = serve(streaming=False)
    told = Told()
    gen = scene(backend(server), told)
    why = f"{server.url} cannot stream: stream is not supported by this server"
    assert told.calls == [("unstreamed", why), ("first_token",), ("summary", gen.value.summary)]
    assert [(r.status, r.streamed) for r in server.state.requests] == [(400, False), (200, False)]
    again = Told()
    scene(backend(server), again, k=2)  # remembered: no second refusal
    assert again.calls[0] == ("unstreamed", why)
    assert [r.status for r in server.state.requests] == [400, 200, 200]


@pytest.mark.parametrize(("fault", "what"), [("runaway", "whitespace"), ("loop", "repeated")])
def test_a_runaway_answer_is_cut_early_with_feedback_for_the_retry(
    serve: Serve, fault: str, what: str
) -> None:
    server = serve(script={"scene1": [f"{fault}:0.5"]}, time_scale=0.05)
    with pytest.raises(RunawayError) as info:
        scene(backend(server), Told())
    message = str(info.value)
    assert message.startswith("your previous answer ran away: ") and what in message
    assert "answer with the JSON object only, at most 440 tokens, no padding" in message
    (seen,) = server.state.requests
    assert seen.max_tokens == SCENE_LIMIT
    assert seen.sent_tokens < SCENE_LIMIT / 3  # cut far before max_tokens
    assert seen.finish_reason is None  # the server never got to write its end


def test_a_runaway_is_retried_with_its_feedback_in_a_run(serve: Serve) -> None:
    server = serve(script={"scene2": ["loop:0.3"]})
    events: list[Event] = []
    script = generate(
        REQUEST.model_copy(update={"concurrency": 1}),
        backend(server, stream=True),
        policy=fast_policy(),
        subscribers=[events.append],
    )
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert retry.index == 2 and "ran away" in retry.error
    assert len(script.scenes) == 6 and script.meta.timeline[1].runaways == 1
    last = server.state.attempts("scene2")[-1]
    assert last.attempt == 2 and last.finish_reason == "stop"


@pytest.mark.parametrize("fault", ["cut:0.5", "badchunk:0.5"])
def test_a_broken_stream_is_a_transient_error(serve: Serve, fault: str) -> None:
    server = serve(script={"scene1": [fault]})
    with pytest.raises(TransientError) as info:
        scene(backend(server), Told())
    assert not isinstance(info.value, RunawayError)
    assert server.url in str(info.value)


def test_no_first_token_in_time_is_a_hang_given_up_fast(serve: Serve) -> None:
    server = serve(script={"scene1": ["timeout"]}, slow_s=30)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"no first token within 0\.3 s from http"):
        scene(backend(server, first_token_timeout_s=0.3), Told())
    assert time.monotonic() - started < 10  # generous: the server would hold it for 30 s
    (seen,) = server.state.requests
    assert seen.first_token_s is None  # it never sent one


def test_a_stall_after_the_first_token_meets_the_whole_calls_timeout(serve: Serve) -> None:
    server = serve(script={"scene1": ["stall:0.5"]}, slow_s=30)
    told = Told()
    with pytest.raises(TransientError, match="timed out after 1 s"):
        scene(backend(server, timeout_s=1, first_token_timeout_s=0.5), told)
    assert told.calls[0] == ("first_token",)


def test_the_first_token_limit_is_never_above_the_calls_timeout() -> None:
    config = BackendConfig.build_config(kind="openai", api_keys=[KEY], timeout_s=5)
    assert config.first_token_timeout_s == 5
    assert BackendConfig().first_token_timeout_s == 20


def test_max_tokens_is_sized_to_each_answer_unless_given(serve: Serve) -> None:
    server = serve()
    b = backend(server)
    long_clip = ScriptRequest(idea="A robot learns to paint", duration_s=120, seconds_per_scene=30)

    async def calls() -> None:
        try:
            await b.write_outline(REQUEST, 6, attempt=1)
            await b.write_bible(REQUEST, attempt=1)
            await b.write_scene(SceneTask(long_clip, 1, 4, 30.0), attempt=1)
        finally:
            await b.aclose()

    asyncio.run(calls())
    assert [r.max_tokens for r in server.state.requests] == [
        token_limit(expected_tokens("outline", "en", scenes=6)),
        token_limit(expected_tokens("bible", "en")),
        token_limit(expected_tokens("scene", "en", duration_s=30)),
    ]
    scene(backend(server, max_tokens=1234), Told())
    assert server.state.requests[-1].max_tokens == 1234  # --max-tokens wins


def test_a_streamed_copy_cancelled_mid_answer_closes_its_connection(serve: Serve) -> None:
    """A hedge's loser is cancelled with its task: the server must stop writing it."""
    server = serve(time_scale=0.5)  # a call of ~4 s: cancelled well before its end
    b = backend(server)
    first: asyncio.Event

    async def race() -> None:
        nonlocal first
        first = asyncio.Event()
        events = StreamEvents(needed=True, first_token=first.set)
        task = asyncio.ensure_future(
            b.write_scene(SceneTask(REQUEST, 1, 6, 8.0), attempt=1, events=events)
        )
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await b.aclose()

    asyncio.run(race())
    wait_for(lambda: server.state.cancelled == 1)
    (seen,) = server.state.requests
    assert seen.streamed and seen.finish_reason is None


def wait_for(condition: Callable[[], bool], within_s: float = 10) -> None:
    """The server notices a closed connection on its own time: poll, generously."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the server never saw it"
        time.sleep(0.01)


def test_a_pipelined_run_over_http_starts_each_scene_on_the_last_summary(serve: Serve) -> None:
    server = serve(time_scale=0.01)
    request = ScriptRequest(
        idea="A lighthouse keeper finds a map", duration_s=192, strategy="pipelined", concurrency=6
    )
    script = generate(request, backend(server), policy=fast_policy())
    assert [s.index for s in script.scenes] == list(range(1, 25))
    assert script.meta.stream_note is None
    for timing in script.meta.timeline:
        assert timing.first_token_s is not None and timing.summary_s is not None
        assert timing.first_token_s <= timing.summary_s <= timing.end_s
    assert all(r.streamed for r in server.state.requests)
    assert all(t.context_lag == 0 for t in script.meta.timeline)  # every summary known


def test_a_pipelined_run_on_a_server_that_cannot_stream_degrades_and_says_so(
    serve: Serve,
) -> None:
    server = serve(streaming=False)
    request = REQUEST.model_copy(update={"strategy": "pipelined", "concurrency": 3})
    script = generate(request, backend(server), policy=fast_policy())
    assert len(script.scenes) == 6
    assert script.meta.stream_note is not None
    assert f"{server.url} cannot stream: stream is not supported" in script.meta.stream_note
    assert [r.status for r in server.state.requests].count(400) == 1  # learned once


def test_a_run_where_some_answers_run_away_finishes_and_counts_them(serve: Serve) -> None:
    server = serve(runaway_rate=0.3, time_scale=0.01)
    request = REQUEST.model_copy(update={"strategy": "pipelined", "concurrency": 3})
    script = generate(request, backend(server), policy=fast_policy(attempts=8))
    ran_away = [r for r in server.state.requests if r.fault == "runaway"]
    assert len(script.scenes) == 6 and ran_away
    assert script.meta.runaways == len(ran_away)
    assert all(r.sent_tokens < SCENE_LIMIT / 3 for r in ran_away)  # each cut early


def test_with_stream_on_the_outline_and_the_bible_stream_too(serve: Serve) -> None:
    server = serve(script={"outline": ["loop:0.5"]})
    b = backend(server, stream=True)

    async def calls() -> int:
        try:
            with pytest.raises(RunawayError):
                await b.write_outline(REQUEST, 6, attempt=1)
            outline = await b.write_outline(REQUEST, 6, attempt=2)
            await b.write_bible(REQUEST, attempt=1)
            return len(outline.value.beats)
        finally:
            await b.aclose()

    assert asyncio.run(calls()) == 6
    assert [(r.call, r.streamed) for r in server.state.requests] == [
        ("outline", True),
        ("outline", True),
        ("bible", True),
    ]
