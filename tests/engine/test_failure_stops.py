"""After a scene fails for good, no new scene starts: only calls already in flight finish.

The failing scene fails on its first call, before any await, so the scenes admitted at
the moment of failure are exactly those admitted up to and with it. Admission is in
index order and at most W calls are in flight, so those are scenes 1..k+W-1 at most
(the scenes let in by the same admission round as k). A batch barrier would hide a
missing stop (the next batch never becomes startable), so windowed and outline, which
have none, are the strategies that show it.
"""

from __future__ import annotations

import pytest
from conftest import FaultyBackend, fast_policy

from storygen import PermanentError, RunFailedError, ScriptRequest, generate
from storygen.engine.events import Event, SceneFailed, SceneFinished


def started(backend: FaultyBackend) -> set[int]:
    return {index for index, _ in backend.attempts_seen}


def fail_scene(k: int) -> FaultyBackend:
    return FaultyBackend({(k, 1): lambda: PermanentError(f"scene {k} refused")})


@pytest.mark.parametrize(
    ("strategy", "window", "k"),
    [
        ("windowed", 3, 4),
        ("windowed", 5, 7),
        ("outline", 4, 6),
        ("outline", 8, 3),
        ("batched", 5, 7),
        ("sequential", 1, 3),
    ],
)
def test_no_scene_starts_after_a_failure(strategy: str, window: int, k: int) -> None:
    backend = fail_scene(k)
    # 30 scenes: plenty left to start if the run went on
    request = ScriptRequest(idea="A heist", duration_s=240, strategy=strategy, concurrency=window)
    events: list[Event] = []
    with pytest.raises(RunFailedError) as info:
        generate(request, backend, policy=fast_policy(), subscribers=[events.append])
    assert info.value.scene_index == k
    seen = started(backend)
    assert set(range(1, k + 1)) <= seen  # admission is in order: everything before k started
    assert max(seen) <= k + window - 1, f"scenes {sorted(seen - set(range(1, k + window)))}"
    assert [a for a in backend.attempts_seen if a[0] == k] == [(k, 1)]
    # the calls in flight were let finish, not abandoned with the run
    finished = {e.scene.index for e in events if isinstance(e, SceneFinished)}
    assert finished == seen - {k}
    assert [e.index for e in events if isinstance(e, SceneFailed)] == [k]


@pytest.mark.parametrize("strategy", ["windowed", "outline"])
def test_a_first_scene_that_fails_at_once_leaves_exactly_the_first_window(strategy: str) -> None:
    """The first admission round lets in scenes 1..W; the failure comes before any ends."""
    backend = fail_scene(1)
    request = ScriptRequest(idea="A heist", duration_s=240, strategy=strategy, concurrency=4)
    with pytest.raises(RunFailedError, match="scene 1 failed"):
        generate(request, backend, policy=fast_policy())
    assert started(backend) == {1, 2, 3, 4}
