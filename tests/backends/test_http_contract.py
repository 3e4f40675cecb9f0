"""The OpenAI backend's contract with a server, judged by what serve-sim saw over real HTTP.

Which answers are retried and which stop the run, how the key pool shares the load and
rests a key answered with 429, and how structured output steps down. The server's own
record (every request: key, call, attempt, response_format, arrival, status) is the
witness, never the client's account of itself.
"""

from __future__ import annotations

import socket

import pytest
from conftest import Serve, fast_policy

from storygen import (
    PermanentError,
    RunFailedError,
    Script,
    ScriptRequest,
    TransientError,
    generate,
)
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.engine.events import Event, SceneRetrying
from storygen.sim import RunningServer, SimRequest

KEY = "sk-contract-0123456789"


def backend(url: str, keys: list[str] | None = None, **kw: object) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai", base_url=url, model="storygen-sim-1", api_keys=keys or [KEY], **kw
    )
    return OpenAIBackend(config)


def six_scenes(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {"idea": "A robot learns to paint", "duration_s": 48}
    return ScriptRequest(**{**fields, "concurrency": 1, **kw})  # type: ignore[arg-type]


def run(
    request: ScriptRequest, b: OpenAIBackend, events: list[Event] | None = None, attempts: int = 4
) -> Script:
    subs = [events.append] if events is not None else []
    return generate(request, b, policy=fast_policy(attempts), subscribers=subs)


def attempts_of(server: RunningServer, call: str) -> list[int]:
    return [r.attempt for r in server.state.attempts(call)]


# --- which answers are retried ------------------------------------------------------------


@pytest.mark.parametrize("status", ["400", "422", "402", "403", "404"])
def test_a_refusal_is_sent_once_and_stops_the_run(serve: Serve, status: str) -> None:
    """Asking again cannot fix a bad request, a missing credit or a forbidden key."""
    server = serve(script={"scene2": [status]})
    with pytest.raises(RunFailedError) as info:
        run(six_scenes(), backend(server.url))
    assert info.value.scene_index == 2
    assert isinstance(info.value.__cause__, PermanentError)
    assert attempts_of(server, "scene2") == [1]  # one request, no retry
    assert [r.status for r in server.state.attempts("scene2")] == [int(status)]
    assert [r.call for r in server.state.requests] == ["scene1", "scene2"]  # nothing after
    says = {
        "400": f"{server.url} refused the request (400: ",
        "422": f"{server.url} refused the request (422: ",
        "402": f"quota exhausted at {server.url}",
        "403": f"the API key was rejected by {server.url} (403: ",
        "404": f"model storygen-sim-1 not found at {server.url}",
    }
    assert says[status] in str(info.value)  # what to fix, by status


@pytest.mark.parametrize("fault", ["409", "500", "502", "503", "drop"])
def test_a_transient_fault_is_retried_and_the_run_finishes(serve: Serve, fault: str) -> None:
    """A conflict, a 5xx or a connection dropped mid-answer goes away if asked again."""
    server = serve(script={"scene2": [fault, fault]})
    script = run(six_scenes(), backend(server.url))
    assert [s.index for s in script.scenes] == list(range(1, 7))
    assert attempts_of(server, "scene2") == [1, 2, 3]
    expected = 0 if fault == "drop" else int(fault)  # a dropped connection has no status
    assert [r.status for r in server.state.attempts("scene2")] == [expected, expected, 200]
    assert script.meta.timeline[1].attempts == 3


def test_a_fault_that_never_clears_is_tried_exactly_attempts_times(serve: Serve) -> None:
    server = serve(script={"scene3": ["503"] * 10})
    with pytest.raises(RunFailedError) as info:
        run(six_scenes(), backend(server.url), attempts=3)
    assert info.value.scene_index == 3
    assert isinstance(info.value.__cause__, TransientError)
    assert attempts_of(server, "scene3") == [1, 2, 3]


def test_a_refused_connection_is_retried_then_fails_the_run() -> None:
    """Nothing listens on the port: every attempt is made, then the run says why."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    events: list[Event] = []
    with pytest.raises(RunFailedError, match="could not connect") as info:
        run(six_scenes(), backend(closed), events, attempts=3)
    assert info.value.scene_index == 1
    assert isinstance(info.value.__cause__, TransientError)
    assert [(e.index, e.attempt) for e in events if isinstance(e, SceneRetrying)] == [
        (1, 1),
        (1, 2),
    ]


def test_a_refused_outline_starts_no_scene(serve: Serve) -> None:
    server = serve(script={"outline": ["400"]})
    with pytest.raises(RunFailedError, match="the outline failed"):
        run(six_scenes(strategy="outline", concurrency=6), backend(server.url))
    assert [(r.call, r.status) for r in server.state.requests] == [("outline", 400)]


def test_a_200_with_a_cut_json_body_is_retried(serve: Serve) -> None:
    """A proxy that cuts the body short is as transient as a dropped connection.

    Fails today: the SDK's JSONDecodeError escapes OpenAIBackend._call unclassified, so
    the run stops at once with "JSONDecodeError: Expecting ..." instead of retrying.
    """
    server = serve(script={"scene2": ["truncated"]})
    script = run(six_scenes(), backend(server.url))
    assert attempts_of(server, "scene2") == [1, 2]
    assert script.meta.timeline[1].attempts == 2


def test_a_200_with_an_html_page_is_retried_with_a_clear_message(serve: Serve) -> None:
    """A proxy's sign-in page with status 200: not a chat completion, so retried, and the
    last error says so instead of "'str' object has no attribute 'usage'"."""
    server = serve(script={"scene2": ["html", "html", "html", "html"]})
    with pytest.raises(RunFailedError, match="something other than a chat completion") as info:
        run(six_scenes(), backend(server.url))
    assert isinstance(info.value.__cause__, TransientError)
    assert attempts_of(server, "scene2") == [1, 2, 3, 4]


# --- structured output steps down one mode at a time ----------------------------------------


def modes(requests: list[SimRequest]) -> list[str]:
    return [r.mode for r in requests]


def test_structured_output_falls_back_through_json_object_to_the_prompt(serve: Serve) -> None:
    """json_schema, then json_object, then the prompt alone; learned once, on one attempt."""
    server = serve(structured="none")
    b = backend(server.url)
    script = run(six_scenes(), b)
    assert len(script.scenes) == 6
    first = server.state.attempts("scene1")
    assert modes(first) == ["json_schema", "json_object", "none"]
    assert [r.status for r in first] == [400, 400, 200]
    assert [r.attempt for r in first] == [1, 1, 1]  # stepping down spends no retry
    later = [r for r in server.state.requests if r.call != "scene1"]
    assert modes(later) == ["none"] * 5  # every later call goes straight to what works
    assert b.mode() == "prompt"


def test_structured_output_stops_at_json_object_when_that_works(serve: Serve) -> None:
    server = serve(structured="json_object")
    b = backend(server.url)
    script = run(six_scenes(), b)
    assert len(script.scenes) == 6
    assert modes(server.state.requests) == ["json_schema"] + ["json_object"] * 6
    assert [r.status for r in server.state.requests] == [400] + [200] * 6
    assert b.mode() == "json_object"


def test_a_server_with_json_schema_is_never_asked_anything_simpler(serve: Serve) -> None:
    server = serve()
    run(six_scenes(concurrency=3, strategy="windowed"), backend(server.url))
    assert modes(server.state.requests) == ["json_schema"] * 6


# --- the key pool ---------------------------------------------------------------------------


def test_each_key_carries_at_most_its_per_key_concurrency(serve: Serve) -> None:
    """A window of 8 over 2 keys x 2: the pool, not the window, bounds each key."""
    server = serve()
    keys = ["sk-pool-a-0123456789", "sk-pool-b-0123456789"]
    request = ScriptRequest(idea="x", duration_s=240, strategy="windowed", concurrency=8)
    script = run(request, backend(server.url, keys, per_key_concurrency=2))
    assert len(script.scenes) == 30
    high = server.state.max_in_flight_by_key
    assert [high[k] for k in keys] == [2, 2]  # the cap binds and holds
    assert sum(server.state.requests_by_key[k] for k in keys) == 30


def test_a_key_answered_with_429_rests_while_the_others_go_on(serve: Serve) -> None:
    rest = 0.15
    server = serve(script={"scene5": [f"429:{rest}"]})
    keys = [f"sk-pool-{c}-0123456789" for c in "abc"]
    # a window of 6 asks more than the two keys left can carry (2 x 2)
    request = ScriptRequest(idea="x", duration_s=400, strategy="windowed", concurrency=6)
    script = run(request, backend(server.url, keys, per_key_concurrency=2))
    assert len(script.scenes) == 50
    (refused,) = [r for r in server.state.requests if r.status == 429]
    rested, start, end = refused.key, refused.at, refused.at + rest
    during = [r for r in server.state.requests if start < r.at < end]
    assert [r for r in during if r.key == rested] == []  # the rested key was left alone
    others = {r.key for r in during}
    assert others == set(keys) - {rested}, "the other keys went on during the rest"
    assert len(during) >= 6
    # the refused call itself moved to a free key at once instead of waiting out the rest
    retry = server.state.attempts("scene5")[1]
    assert retry.key != rested and retry.at < end
