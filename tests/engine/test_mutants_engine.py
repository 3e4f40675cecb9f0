"""What a failed run says, and how a bad outline is retried (gaps found by mutation testing).

The other tests check that a run stops and which scene it names; these pin the words the
user reads (the kind of error, and the store's own message left as it is) and the repair
loop of the outline (the model is told why its plan was rejected).
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import FAST, FaultyBackend, fast_policy

from storygen import (
    Generation,
    PermanentError,
    RunFailedError,
    ScriptRequest,
    TransientError,
    generate,
)
from storygen.core.models import Outline
from storygen.engine.events import Event, RunFailed, SceneFailed


def _request(strategy: str = "sequential", scenes: int = 4) -> ScriptRequest:
    return ScriptRequest(
        idea="A lighthouse keeper finds a map",
        duration_s=8 * scenes,
        strategy=strategy,  # type: ignore[arg-type]
        concurrency=2,
    )


def _failed(
    backend: FaultyBackend, request: ScriptRequest, attempts: int = 2
) -> tuple[RunFailedError, list[Event]]:
    events: list[Event] = []
    with pytest.raises(RunFailedError) as info:
        generate(request, backend, policy=fast_policy(attempts), subscribers=[events.append])
    return info.value, events


def test_a_permanent_error_is_named_as_such_with_its_message() -> None:
    backend = FaultyBackend({(3, 1): lambda: PermanentError("the API key was rejected")})
    error, events = _failed(backend, _request())
    assert str(error) == "scene 3 failed: permanent error: the API key was rejected"
    assert error.scene_index == 3
    assert [(e.index, e.error) for e in events if isinstance(e, SceneFailed)] == [
        (3, "permanent error: the API key was rejected")
    ]
    assert [(e.error, e.scene_index) for e in events if isinstance(e, RunFailed)] == [
        (str(error), 3)
    ]


def test_a_transient_error_that_never_clears_is_named_by_its_type() -> None:
    backend = FaultyBackend(
        {
            (2, 1): lambda: TransientError("503 from the provider"),
            (2, 2): lambda: TransientError("503 again"),
        }
    )
    error, _ = _failed(backend, _request())
    assert str(error) == "scene 2 failed: TransientError: 503 again"
    assert backend.attempts_seen.count((2, 1)) == backend.attempts_seen.count((2, 2)) == 1


class ShortOutline(FaultyBackend):
    """The simulated model, whose plan misses its last beat on the first ``bad`` attempts."""

    def __init__(self, bad: int) -> None:
        super().__init__({}, time_scale=FAST)
        self.bad = bad
        self.outline_calls: list[tuple[int, str | None]] = []

    async def write_outline(
        self,
        request: ScriptRequest,
        total: int,
        *,
        attempt: int,
        feedback: str | None = None,
        **kw: int,
    ) -> Generation[Outline]:
        self.outline_calls.append((attempt, feedback))
        gen = await super().write_outline(request, total, attempt=attempt, feedback=feedback, **kw)
        if attempt <= self.bad:
            short = gen.value.model_copy(update={"beats": gen.value.beats[:-1]})
            return dataclasses.replace(gen, value=short)
        return gen


def test_an_outline_with_the_wrong_number_of_beats_is_repaired_with_the_reason() -> None:
    backend = ShortOutline(bad=1)
    script = generate(_request("outline"), backend, policy=fast_policy(3))
    reason = "the outline must have exactly 4 beats, one per scene (it had 3)"
    assert backend.outline_calls == [(1, None), (2, reason)]
    assert script.outline is not None and len(script.outline.beats) == 4
    meta = script.meta
    assert meta.outline_start_s is not None and meta.outline_end_s is not None
    assert 0 <= meta.outline_start_s < meta.outline_end_s <= min(t.start_s for t in meta.timeline)
    assert meta.outline_prompt_tokens and meta.outline_completion_tokens


def test_an_outline_that_stays_wrong_fails_the_run_before_any_scene() -> None:
    backend = ShortOutline(bad=2)
    error, events = _failed(backend, _request("outline"), attempts=2)
    assert str(error) == (
        "the outline failed: MalformedOutputError: the outline must have exactly 4 beats, "
        "one per scene (it had 3)"
    )
    assert error.scene_index is None
    assert backend.attempts_seen == []  # no scene was started
    assert not [e for e in events if isinstance(e, SceneFailed)]
