"""Scenes written again: only the picked ones change, each is told its neighbours, the bible
and the note (as the prompt the simulator was sent shows), within the run's concurrency, and
the scenes that quoted a changed summary are marked stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAST

from storygen import (
    Generation,
    InvalidRequestError,
    RunFailedError,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
    generate,
    history,
    regenerate,
    undo,
)
from storygen.core.errors import PermanentError
from storygen.core.models import SceneDraft
from storygen.core.prompts import NOTE, parse_prompt, scene_prompt

REQUEST = ScriptRequest(
    idea="A fox learns to fly", duration_s=120, concurrency=3, context_scenes=2, bible=True
)


class Recording(SimulatedBackend):
    """The simulated LLM, keeping every scene prompt it was sent and how many calls ran at
    once."""

    def __init__(self, fail: frozenset[int] = frozenset(), **kw: float) -> None:
        super().__init__(time_scale=kw.pop("time_scale", FAST), **kw)
        self.prompts: dict[int, str] = {}
        self.attempts: list[tuple[int, int]] = []
        self.in_flight = self.most_in_flight = 0
        self.fail = fail

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        self.prompts[task.index] = scene_prompt(task)
        self.attempts.append((task.index, attempt))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if task.index in self.fail:
                raise PermanentError(f"scene {task.index} refused")
            return await super().write_scene(task, attempt=attempt, feedback=feedback)
        finally:
            self.in_flight -= 1


def finished_run(tmp_path: Path, request: ScriptRequest = REQUEST) -> Path:
    store = RunStore(tmp_path / "runs")
    generate(request, SimulatedBackend(time_scale=FAST), store=store)
    return next(iter(store)).path


def scenes_on_disk(run: Path) -> list[dict[str, object]]:
    return list(json.loads((run / "script.json").read_text("utf-8"))["scenes"])


def test_only_the_picked_scenes_change(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    before = scenes_on_disk(run)
    regenerate(run, scenes=[3, 7, 8, 9], backend=Recording())
    after = scenes_on_disk(run)
    changed = [k for k, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b]
    assert changed == [3, 7, 8, 9]


def test_each_scene_is_told_its_neighbours_the_bible_and_the_note(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    summaries = {s["index"]: s["summary"] for s in scenes_on_disk(run)}
    backend = Recording()
    script = regenerate(run, scenes=[5], note="make it night", backend=backend)

    told = parse_prompt(backend.prompts[5])
    assert told is not None
    assert told.context.previous == ((3, summaries[3]), (4, summaries[4]))
    assert told.context.following == ((6, summaries[6]), (7, summaries[7]))
    assert script.bible is not None and told.context.bible is not None
    assert [c.name for c in told.context.bible.characters] == [
        c.name for c in script.bible.characters
    ]
    assert told.context.note == "make it night"
    assert f"{NOTE}make it night" in backend.prompts[5]
    # the simulator knows the note only from its prompt, and honours it
    assert "Make it night." in script.scenes[4].visual_prompt


def test_an_outline_run_s_scene_is_told_its_beats_and_neighbours(tmp_path: Path) -> None:
    run = finished_run(tmp_path, REQUEST.model_copy(update={"strategy": "outline"}))
    backend = Recording()
    script = regenerate(run, scenes=[1], backend=backend)
    told = parse_prompt(backend.prompts[1])
    assert told is not None and script.outline is not None
    assert told.context.beat == script.outline.beats[0]
    assert told.context.previous == ()
    assert [i for i, _ in told.context.following] == [2, 3]


def test_scenes_are_written_in_parallel_within_the_run_s_concurrency(tmp_path: Path) -> None:
    run = finished_run(tmp_path)  # concurrency 3
    backend = Recording(time_scale=0.005)
    regenerate(run, scenes=range(1, 16), backend=backend)
    assert sorted(backend.prompts) == list(range(1, 16))
    assert 1 < backend.most_in_flight <= 3


def test_attempts_are_numbered_after_the_scene_s_earlier_ones(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    first, second = Recording(), Recording()
    a = regenerate(run, scenes=[2], backend=first).scenes[1]
    b = regenerate(run, scenes=[2], backend=second).scenes[1]
    assert first.attempts == [(2, 2)]  # the run wrote it at attempt 1
    assert second.attempts == [(2, 3)]
    assert a != b  # drawn afresh, not the same answer again


def test_a_failed_scene_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    before = (run / "script.json").read_bytes()
    with pytest.raises(RunFailedError, match="scene 4 could not be written again") as info:
        regenerate(run, scenes=[2, 4, 6], backend=Recording(fail=frozenset({4})))
    assert info.value.scene_index == 4
    assert (run / "script.json").read_bytes() == before
    assert not (run / "history.jsonl").exists() and not (run / "versions").exists()


def test_changed_summaries_mark_later_scenes_stale_and_stale_regenerates_them(
    tmp_path: Path,
) -> None:
    run = finished_run(tmp_path)  # context_scenes 2
    script = regenerate(run, scenes=[4], backend=Recording())
    assert script.stale == [5, 6]  # they quoted scene 4's old summary

    backend = Recording()
    script = regenerate(run, stale=True, backend=backend)
    assert sorted(backend.prompts) == [5, 6]
    assert 5 not in script.stale and 6 not in script.stale  # written again: no longer stale
    assert script.stale == [7, 8]  # they quoted 5's and 6's old summaries
    assert history(run)[-1].scenes == (5, 6)


def test_stale_with_nothing_stale_changes_nothing(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    backend = Recording()
    regenerate(run, stale=True, backend=backend)
    assert backend.prompts == {}
    assert len(history(run)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenes": [0]}, r"scenes: 0 is not a scene of this run \(allowed: 1 to 15\)"),
        ({"scenes": [16]}, "scenes: 16 is not"),
        ({}, "scenes: name the scenes"),
        ({"scenes": [1], "note": "x" * 501}, r"note: 501 characters \(allowed: at most 500\)"),
    ],
)
def test_bad_picks_are_refused_before_any_call(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    run = finished_run(tmp_path)
    backend = Recording()
    with pytest.raises(InvalidRequestError, match=message):
        regenerate(run, backend=backend, **kwargs)  # type: ignore[arg-type]
    assert backend.prompts == {}


def test_the_run_s_own_backend_is_used_and_undo_brings_the_scenes_back(
    tmp_path: Path,
) -> None:
    run = finished_run(tmp_path)
    before = (run / "script.json").read_bytes()
    regenerate(run, scenes=[1, 2], note="in the snow")  # rebuilt from backend.json
    assert [v.note for v in history(run)] == [None, "in the snow"]
    undo(run)
    assert (run / "script.json").read_bytes() == before


def test_the_note_reads_back_from_the_prompt() -> None:
    task = SceneTask(REQUEST, 3, 15, 8.0)
    plain = parse_prompt(scene_prompt(task))
    assert plain is not None and plain.context.note is None
    with_note = SceneTask(REQUEST, 3, 15, 8.0, plain.context.__class__(note="more  rain\nplease"))
    told = parse_prompt(scene_prompt(with_note))
    assert told is not None and told.context.note == "more rain please"
