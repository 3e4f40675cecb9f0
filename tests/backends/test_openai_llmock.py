"""The same backend against a third-party mock server (llmock), so that it is not shaped
only to our own simulator: llmock answers structured output from the JSON schema we send,
and injects 429 / 5xx / slow answers / broken text from scripted scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import fast_policy
from llmock.scenarios import Delay, Fail, Reply
from llmock.testing import LLMockServer

from storygen import RunFailedError, ScriptRequest, generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.secrets import mask
from storygen.engine.events import Event, SceneRetrying

KEY = "sk-llmock-0123456789"


@pytest.fixture(scope="module")
def mock() -> Iterator[LLMockServer]:
    with LLMockServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(mock: LLMockServer) -> None:
    mock.state.reset()


def backend(mock: LLMockServer, **kw: object) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai", base_url=mock.base_url("openai"), model="gpt-4o-mini", api_keys=[KEY], **kw
    )
    return OpenAIBackend(config)


def chat_records(mock: LLMockServer) -> list:  # type: ignore[type-arg]
    return [r for r in mock.state.journal.records(wait=5) if r.path.endswith("chat/completions")]


def test_scenes_from_a_schema_driven_mock(mock: LLMockServer) -> None:
    request = ScriptRequest(idea="A robot learns to paint", duration_s=80, concurrency=5)
    script = generate(request, backend(mock), policy=fast_policy())
    assert [s.index for s in script.scenes] == list(range(1, 11))
    assert all(s.title and s.summary for s in script.scenes)
    bodies = [r.body for r in chat_records(mock)]
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies)
    assert all(b["model"] == "gpt-4o-mini" for b in bodies)


def test_chaos_429_5xx_slow_and_broken_answers_are_retried(mock: LLMockServer) -> None:
    mock.state.scenarios.add(
        Fail(429, retry_after=0.25),
        Fail(503),
        Reply(text="Sorry, I cannot answer in JSON today."),
        Delay(0.0),  # delays and replies are consumed together, by the same request
        Delay(3.0),
    )
    events: list[Event] = []
    request = ScriptRequest(idea="A robot learns to paint", duration_s=24, strategy="sequential")
    script = generate(
        request, backend(mock, timeout_s=0.5), policy=fast_policy(5), subscribers=[events.append]
    )
    assert [s.index for s in script.scenes] == [1, 2, 3]
    assert script.meta.timeline[0].attempts == 5  # all four faults met scene 1
    errors = [e.error for e in events if isinstance(e, SceneRetrying)]
    assert len(errors) == 4
    assert "rate limited" in errors[0] and "503" in errors[1]
    assert "no JSON object" in errors[2] and "timed out" in errors[3]
    records = chat_records(mock)
    # llmock's journal: the retry after the 429 waited for its Retry-After
    assert records[0].status == 429 and records[1].started_at - records[0].ended_at >= 0.25
    # attempts after the broken answer tell the model what was wrong; those before do not
    said = [
        [m["content"] for m in r.body["messages"] if "rejected" in m["content"]] for r in records
    ]
    assert said[:3] == [[], [], []]
    assert said[3] and all("no JSON object" in text for text in said[3])


def test_rejected_key_is_permanent_and_masked(mock: LLMockServer) -> None:
    mock.state.scenarios.add(Fail(401, message=f"Incorrect API key provided: {KEY}"))
    request = ScriptRequest(idea="x", duration_s=16, strategy="sequential")
    with pytest.raises(RunFailedError) as info:
        generate(request, backend(mock), policy=fast_policy())
    assert "the API key was rejected" in str(info.value)
    assert KEY not in str(info.value) and mask(KEY) in str(info.value)
    assert len(chat_records(mock)) == 1
    assert json.dumps(info.value.args).find(KEY) == -1
