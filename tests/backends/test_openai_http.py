"""The OpenAI-compatible backend through the real openai SDK over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Serve, fast_policy

from storygen import (
    PermanentError,
    RunFailedError,
    RunStore,
    Script,
    ScriptRequest,
    generate,
    resume,
)
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.secrets import mask
from storygen.engine.events import Event, SceneRetrying
from storygen.sim import RunningServer

KEY = "sk-test-0123456789abcdef"


def backend(server: RunningServer, keys: list[str] | None = None, **kw: object) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai",
        base_url=server.url,
        model=kw.pop("model", "storygen-sim-1"),
        api_keys=keys or [KEY],
        **kw,
    )
    return OpenAIBackend(config)


def short(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {"idea": "A robot learns to paint", "duration_s": 48}
    return ScriptRequest(**{**fields, **kw})  # type: ignore[arg-type]


def run(request: ScriptRequest, b: OpenAIBackend, events: list[Event] | None = None) -> Script:
    subs = [events.append] if events is not None else []
    return generate(request, b, policy=fast_policy(), subscribers=subs)


@pytest.mark.parametrize(
    ("strategy", "size"), [("sequential", 1), ("batched", 5), ("windowed", 5), ("outline", 25)]
)
def test_full_75_scene_script_over_http(serve: Serve, strategy: str, size: int) -> None:
    server = serve()
    request = ScriptRequest(
        idea="A lighthouse keeper finds a map", duration_s=600, strategy=strategy, concurrency=size
    )
    script = run(request, backend(server))
    assert [s.index for s in script.scenes] == list(range(1, 76))
    assert script.meta.backend == "openai" and script.meta.model == "storygen-sim-1"
    assert all(t.prompt_tokens > 0 and t.completion_tokens > 0 for t in script.meta.timeline)
    assert server.state.requests_by_key[KEY] == 75 + (strategy == "outline")
    if strategy == "outline":
        assert script.outline is not None and len(script.outline.beats) == 75
        # the scene follows its beat: the server wrote it from the beat the prompt carried
        assert script.scenes[9].summary == script.outline.beats[9].rstrip(".")


def test_retry_after_of_a_429_is_honoured(serve: Serve) -> None:
    server = serve(script={"scene2": ["429:0.3"]})
    events: list[Event] = []
    script = run(short(), backend(server), events)
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert retry.index == 2 and "rate limited" in retry.error
    assert retry.wait_s == pytest.approx(0.3, abs=0.02)
    timing = script.meta.timeline[1]
    assert timing.attempts == 2 and timing.end_s - timing.start_s >= 0.3
    refused, answered = server.state.attempts("scene2")
    assert (refused.status, answered.status) == (429, 200)
    assert answered.at - refused.at >= 0.3  # the server, too, saw the client wait it out


def test_retry_after_zero_means_now_not_unknown(serve: Serve) -> None:
    """A rate limiter near the end of its window says "retry after 0"; read as "no hint",
    it parked the key (with one key, every call) for a second, a fifth of a run's time."""
    server = serve(script={"scene2": ["429:0"]})
    events: list[Event] = []
    run(short(), backend(server), events)
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert retry.index == 2 and retry.wait_s < 0.05
    refused, answered = server.state.attempts("scene2")
    assert (refused.status, answered.status) == (429, 200)


def test_server_errors_then_success(serve: Serve) -> None:
    server = serve(script={"scene3": ["500", "500"]})
    script = run(short(), backend(server))
    assert script.meta.timeline[2].attempts == 3
    assert len(script.scenes) == 6
    assert [r.status for r in server.state.attempts("scene3")] == [500, 500, 200]


def test_timeout_then_success(serve: Serve) -> None:
    server = serve(script={"scene4": ["timeout"]}, slow_s=1.5)  # the server finishes it on stop
    events: list[Event] = []
    script = run(short(), backend(server, timeout_s=0.5), events)
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert retry.index == 4 and "timed out after 0.5 s" in retry.error
    assert script.meta.timeline[3].attempts == 2
    assert [r.attempt for r in server.state.attempts("scene4")] == [1, 2]


def test_malformed_json_is_repaired_by_telling_the_model_why(serve: Serve) -> None:
    server = serve(script={"scene5": ["malformed"]})
    events: list[Event] = []
    script = run(short(), backend(server), events)
    (retry,) = [e for e in events if isinstance(e, SceneRetrying)]
    assert "did not match the scene schema" in retry.error or "not valid JSON" in retry.error
    assert script.meta.timeline[4].attempts == 2
    assert script.scenes[4].title  # a real scene, validated
    assert [(r.attempt, r.fault) for r in server.state.attempts("scene5")] == [
        (1, "malformed"),
        (2, "ok"),
    ]


def test_bad_key_is_a_clear_error_with_the_key_masked_and_no_retry(serve: Serve) -> None:
    server = serve(api_keys=frozenset({"sk-the-right-key-000"}))
    with pytest.raises(RunFailedError) as info:
        run(short(concurrency=1), backend(server))
    message = str(info.value)
    assert f"the API key was rejected by {server.url}" in message
    assert KEY not in message and mask(KEY) in message
    assert isinstance(info.value.__cause__, PermanentError)
    assert [r.status for r in server.state.requests] == [401]  # refused once, never retried


def test_missing_model_is_a_clear_error(serve: Serve) -> None:
    server = serve()
    with pytest.raises(RunFailedError, match=f"model nope-7b not found at {server.url}") as info:
        run(short(concurrency=1), backend(server, model="nope-7b"))
    assert isinstance(info.value.__cause__, PermanentError)
    assert [r.status for r in server.state.requests] == [404]


def test_exhausted_quota_stops_at_once(serve: Serve) -> None:
    server = serve(exhausted_keys=frozenset({KEY}))
    with pytest.raises(RunFailedError, match="quota exhausted") as info:
        run(short(concurrency=1), backend(server))
    # a 429 like a rate limit, but insufficient_quota: no wait can help
    assert isinstance(info.value.__cause__, PermanentError)
    assert [r.status for r in server.state.requests] == [429]


def test_calls_are_spread_over_the_key_pool(serve: Serve) -> None:
    server = serve()
    keys = [f"sk-pool-key-{i}-0123456789" for i in range(3)]
    script = run(
        ScriptRequest(idea="x", duration_s=600, strategy="windowed", concurrency=12),
        backend(server, keys, per_key_concurrency=4),
    )
    assert len(script.scenes) == 75
    counts = [server.state.requests_by_key[k] for k in keys]
    assert sum(counts) == 75 and min(counts) >= 20, counts


def test_client_rpm_limit_keeps_429s_away_and_runs_near_the_limit(serve: Serve) -> None:
    server = serve(rpm=20, time_scale=0.05)  # the server's minute lasts 3 s
    events: list[Event] = []
    b = backend(server, rpm=20, rate_window_s=3.0)
    request = ScriptRequest(idea="x", duration_s=240, strategy="windowed", concurrency=25)
    script = run(request, b, events)
    assert len(script.scenes) == 30
    assert server.state.rejected_429 == 0
    assert not [e for e in events if isinstance(e, SceneRetrying)]
    times = server.state.accepted_at
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.9 * 20 / 3.0


def test_server_without_structured_output_falls_back_once(serve: Serve) -> None:
    server = serve(structured="none")
    b = backend(server)
    script = run(short(strategy="outline"), b)
    assert len(script.scenes) == 6 and script.outline is not None
    assert b.mode() == "prompt"


def test_reasoning_model_parameters_are_adapted_once(serve: Serve) -> None:
    server = serve(reasoning_model=True)
    script = run(short(concurrency=1), backend(server))
    assert len(script.scenes) == 6
    # two refused calls taught the backend; every later call went through first time
    assert server.state.requests_by_key[KEY] == 6 + 2
    again = run(short(concurrency=5, seed=1), backend(server, model="gpt-4o-mini"))
    assert len(again.scenes) == 6  # concurrent calls learning at once do not fail each other


def test_run_store_and_errors_never_hold_the_key(serve: Serve, tmp_path: Path) -> None:
    server = serve()
    b = backend(server)
    script = generate(short(), b, store=RunStore(tmp_path), policy=fast_policy())
    (run_dir,) = tmp_path.iterdir()
    for file in run_dir.iterdir():
        assert KEY not in file.read_text()
    saved = json.loads((run_dir / "backend.json").read_text())
    assert saved["kind"] == "openai" and saved["base_url"] == server.url
    assert KEY not in script.model_dump_json() and KEY not in repr(b.config)


def test_failed_http_run_resumes_with_the_key_from_the_environment(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(script={"scene3": ["500"] * 4})
    with pytest.raises(RunFailedError, match="scene 3 failed") as info:
        generate(
            short(concurrency=1), backend(server), store=RunStore(tmp_path), policy=fast_policy()
        )
    monkeypatch.setenv("STORYGEN_API_KEYS", KEY)
    server.config.script.clear()  # the server recovered
    script = resume(info.value.run_dir or "", policy=fast_policy())  # backend rebuilt from disk
    assert [s.index for s in script.scenes] == list(range(1, 7))
    assert script.meta.backend == "openai"
