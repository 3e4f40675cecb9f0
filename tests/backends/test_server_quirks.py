"""Real servers' quirks, played by serve-sim and met by the real openai SDK over HTTP.

llama-cpp-python refuses json_schema with a 500; small models write raw newlines inside
JSON strings; answers get cut off at max_tokens; prompts outgrow the context window. Each
is judged by what the server saw (every request's response_format, max_tokens, status and
finish_reason), never by the client's account of itself.
"""

from __future__ import annotations

import json

import openai
import pytest
from conftest import Serve, fast_policy

from storygen import PermanentError, RunFailedError, Script, ScriptRequest, generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.prompts import extract_json, json_instruction, outline_prompt
from storygen.engine.events import Event, SceneRetrying
from storygen.sim import RunningServer, SimServerConfig

KEY = "sk-quirks-0123456789"


def backend(url: str, **kw: object) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai", base_url=url, model="storygen-sim-1", api_keys=[KEY], **kw
    )
    return OpenAIBackend(config)


def six_scenes(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {"idea": "A robot learns to paint", "duration_s": 48}
    return ScriptRequest(**{**fields, "concurrency": 1, **kw})  # type: ignore[arg-type]


def run(request: ScriptRequest, b: OpenAIBackend, events: list[Event] | None = None) -> Script:
    subs = [events.append] if events is not None else []
    return generate(request, b, policy=fast_policy(), subscribers=subs)


# --- llama-cpp-python: json_schema refused with a 500 ---------------------------------------


def test_refuse_500_answers_json_schema_as_llama_cpp_python_does(serve: Serve) -> None:
    """serve-sim plays the server faithfully: a 500 carrying pydantic's literal_error at
    ('body', 'response_format', 'type'), and json_object answered normally."""
    server = serve(structured="refuse-500")
    client = openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0)
    request = ScriptRequest(idea="A robot learns to paint", duration_s=48)
    messages = [{"role": "user", "content": f"{outline_prompt(request, 6)}\n\n"}]
    schema = {"type": "json_schema", "json_schema": {"name": "outline", "schema": {}}}
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="storygen-sim-1",
            messages=messages,  # type: ignore[arg-type]
            response_format=schema,  # type: ignore[arg-type]
        )
    assert info.value.status_code == 500
    assert "1 validation error" in info.value.message and "literal_error" in info.value.message
    assert "('body', 'response_format', 'type')" in info.value.message
    assert "Input should be 'text' or 'json_object'" in info.value.message
    answer = client.chat.completions.create(
        model="storygen-sim-1",
        messages=messages,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )
    assert answer.choices[0].message.content
    client.close()


def test_a_500_refusing_json_schema_steps_down_and_the_run_completes(serve: Serve) -> None:
    """Before: the 500 was retried as a server error four times and the run failed."""
    server = serve(structured="refuse-500")
    b = backend(server.url)
    script = run(six_scenes(), b)
    assert [s.index for s in script.scenes] == list(range(1, 7))
    first = server.state.attempts("scene1")
    assert [(r.mode, r.status, r.attempt) for r in first] == [
        ("json_schema", 500, 1),
        ("json_object", 200, 1),  # same attempt: stepping down spends no retry
    ]
    later = [r for r in server.state.requests if r.call != "scene1"]
    assert [(r.mode, r.status) for r in later] == [("json_object", 200)] * 5  # remembered
    assert b.mode() == "json_object"
    assert script.meta.timeline[0].attempts == 1


def test_serve_sim_config_names_what_structured_may_be() -> None:
    """The CLI hands --structured straight to SimServerConfig: a typo is refused there."""
    assert SimServerConfig(structured="refuse-500").structured == "refuse-500"
    with pytest.raises(ValueError, match="refuse-500"):
        SimServerConfig(structured="refuse500")  # type: ignore[arg-type]


# --- raw control characters inside JSON strings ---------------------------------------------


def test_the_newlines_fault_sends_what_strict_json_refuses(serve: Serve) -> None:
    """The answer holds raw newlines and tabs inside its strings: strict JSON refuses it,
    storygen reads it, with the newline kept in the text."""
    server = serve(script={"scene1": ["newlines"]})
    client = openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0)
    prompt = "Idea: x\nWrite scene 1 of 6, a clip of 8 s: title"
    answer = client.chat.completions.create(
        model="storygen-sim-1",
        messages=[{"role": "user", "content": f"{prompt}\n\n{json_instruction('scene')}"}],
    )
    client.close()
    content = answer.choices[0].message.content or ""
    with pytest.raises(json.JSONDecodeError, match="control character"):
        json.loads(content)
    assert "\n\t" in extract_json(content)["narration"]


def test_raw_newlines_inside_json_strings_are_accepted_on_the_first_attempt(
    serve: Serve,
) -> None:
    server = serve(script={"scene2": ["newlines"]})
    events: list[Event] = []
    script = run(six_scenes(), backend(server.url), events)
    assert [(r.attempt, r.fault, r.status) for r in server.state.attempts("scene2")] == [
        (1, "newlines", 200)
    ]
    assert [e for e in events if isinstance(e, SceneRetrying)] == []
    assert script.meta.timeline[1].attempts == 1
    assert "\n" in script.scenes[1].narration  # what the model wrote, kept


# --- answers cut off by the token limit ------------------------------------------------------


Seen = tuple[int, int | None, int, str | None]


def cut_attempts(server: RunningServer, call: str) -> list[Seen]:
    """(attempt, max_tokens, status, finish_reason) of every request for one call."""
    return [
        (r.attempt, r.max_tokens, r.status, r.finish_reason) for r in server.state.attempts(call)
    ]


def test_a_cut_off_answer_is_retried_once_with_a_larger_limit(serve: Serve) -> None:
    """The server cuts scene 2 unless allowed 3000 tokens: the retry asks for double."""
    server = serve(script={"scene2": ["length:3000"]})
    events: list[Event] = []
    script = run(six_scenes(), backend(server.url, max_tokens=1500), events)
    assert [s.index for s in script.scenes] == list(range(1, 7))
    assert cut_attempts(server, "scene2") == [(1, 1500, 200, "length"), (2, 3000, 200, "stop")]
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert "the answer was cut off at max_tokens=1500; raise --max-tokens" in retry.error
    later = [r.max_tokens for r in server.state.requests if r.call in ("scene3", "scene6")]
    assert later == [1500, 1500]  # only the call that was cut asked for more


def test_an_answer_that_keeps_being_cut_off_fails_with_the_clear_message(serve: Serve) -> None:
    server = serve(script={"scene2": ["length:99999"] * 4})
    with pytest.raises(RunFailedError) as info:
        run(six_scenes(), backend(server.url, max_tokens=1500))
    message = str(info.value)
    assert "scene 2 failed" in message
    assert "the answer was cut off at max_tokens=3000; raise --max-tokens" in message
    # raised once, not doubled again on every retry
    assert [m for _, m, _, _ in cut_attempts(server, "scene2")] == [1500, 3000, 3000, 3000]


def test_the_larger_limit_stays_within_what_the_server_says_it_allows(serve: Serve) -> None:
    """Double would be 3000; the server answers that it allows at most 2000, so the same
    attempt asks again with 2000, and the answer fits."""
    server = serve(script={"scene2": ["length:2000"]}, max_tokens_limit=2000)
    script = run(six_scenes(), backend(server.url, max_tokens=1500))
    assert len(script.scenes) == 6
    assert cut_attempts(server, "scene2") == [
        (1, 1500, 200, "length"),
        (2, 3000, 400, None),
        (2, 2000, 200, "stop"),
    ]
    assert {r.max_tokens for r in server.state.requests if r.call == "scene3"} == {1500}


def test_a_limit_above_what_the_server_allows_is_lowered_to_it(serve: Serve) -> None:
    server = serve(max_tokens_limit=1000)
    script = run(six_scenes(), backend(server.url, max_tokens=1500))
    assert len(script.scenes) == 6
    assert [(r.max_tokens, r.status) for r in server.state.requests] == [
        (1500, 400),
        *[(1000, 200)] * 6,  # learned once, for this server and model
    ]


def test_cut_off_at_the_servers_own_limit_says_raising_cannot_help(serve: Serve) -> None:
    server = serve(script={"scene1": ["length:99999"] * 4}, max_tokens_limit=2000)
    with pytest.raises(RunFailedError) as info:
        run(six_scenes(), backend(server.url, max_tokens=1500))
    message = str(info.value)
    assert "cut off at max_tokens=2000" in message
    assert f"the most {server.url} allows for storygen-sim-1" in message
    assert "raise --max-tokens" not in message


# --- prompts longer than the context window ---------------------------------------------------


def test_context_too_long_names_the_prompt_size_and_the_knob_and_is_not_retried(
    serve: Serve,
) -> None:
    server = serve(context_tokens=300)
    with pytest.raises(RunFailedError) as info:
        run(six_scenes(), backend(server.url, max_tokens=1500))
    assert isinstance(info.value.__cause__, PermanentError)
    (refused,) = server.state.requests  # one request, never retried
    assert (refused.call, refused.status) == ("scene1", 400)
    message = str(info.value)
    assert f"about {refused.prompt_tokens} tokens by our estimate" in message
    assert "plus max_tokens=1500" in message
    assert "--context-scenes" in message and "shorter style or idea" in message
    assert "maximum context length is 300 tokens" in message  # the server's own words


def test_fewer_context_scenes_fit_a_window_that_more_overflow(serve: Serve) -> None:
    """The knob the message names is the one that works: quoting previous scenes is what
    outgrows a window that the first scene fits."""
    measured = serve()
    run(six_scenes(), backend(measured.url))
    sizes = {r.call: r.prompt_tokens for r in measured.state.requests}
    assert sizes["scene6"] > sizes["scene1"] + 10  # five summaries quoted
    window = sizes["scene1"] + 1500 + 5
    tight = serve(context_tokens=window)
    with pytest.raises(RunFailedError, match="--context-scenes") as info:
        run(six_scenes(context_scenes=5), backend(tight.url, max_tokens=1500))
    assert info.value.scene_index is not None and info.value.scene_index > 1
    script = run(six_scenes(context_scenes=0), backend(tight.url, max_tokens=1500))
    assert len(script.scenes) == 6
