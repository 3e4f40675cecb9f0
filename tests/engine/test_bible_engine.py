"""The story bible in a run: one call before any scene, quoted in every scene prompt, saved
as bible.json and reused on resume; the look lock on every scene; findings at the finish.

The backend is the simulated one with a scripted bible call, and with every prompt it was
sent kept, so that the tests read what a model would have been told.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import (
    Generation,
    RunFailedError,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
    generate,
    resume,
)
from storygen.core.continuity import plain
from storygen.core.errors import MalformedOutputError
from storygen.core.looks import present
from storygen.core.models import Bible, Character, SceneDraft
from storygen.core.prompts import scene_prompt
from storygen.engine.events import BibleFinished, OutlineFinished, SceneStarted

BIBLE = Bible(
    characters=[
        Character(name="Mara", role="keeper", visual_identity="a woman in a mint-green spacesuit"),
        Character(name="Jonas", role="brother", visual_identity="a man with a red beard"),
    ],
    setting="an island lighthouse",
    objects=["a brass map"],
)
BLOCK = "Story bible (keep every name and look exactly):"


class BibleBackend(SimulatedBackend):
    """Scenes as simulated; the bible call answers ``BIBLE`` after ``bad`` empty casts; every
    scene names Mara and Jonas (as a model told the bible would)."""

    def __init__(self, bad: int = 0, **kw: object) -> None:
        super().__init__(time_scale=kw.pop("time_scale", FAST), **kw)  # type: ignore[arg-type]
        self.bad = bad
        self.bible_calls: list[int] = []
        self.prompts: dict[int, str] = {}

    async def write_bible(
        self,
        request: ScriptRequest,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Bible]:
        self.bible_calls.append(attempt)
        answer = Bible(characters=[]) if len(self.bible_calls) <= self.bad else BIBLE
        return Generation(answer, prompt_tokens=30, completion_tokens=40, latency_s=0.0)

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        self.prompts[task.index] = scene_prompt(task)
        gen = await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)
        draft = gen.value.model_copy(update={"characters": ["Mara", "Jonas"]})
        return Generation(draft, gen.prompt_tokens, gen.completion_tokens, gen.latency_s)


def _request(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {
        "idea": "A lighthouse keeper finds a map",
        "duration_s": 80,
        "concurrency": 5,
        "bible": True,
    }
    return ScriptRequest(**{**fields, **kw})  # type: ignore[arg-type]


def _restates_every_look(visual_prompt: str, names: list[str], bible: Bible) -> bool:
    looks = {plain(c.name): plain(c.visual_identity) for c in bible.characters}
    return all(looks[plain(n)] in plain(visual_prompt) for n in names if plain(n) in looks)


@pytest.mark.parametrize("strategy", ["sequential", "batched", "windowed"])
def test_one_bible_call_before_any_scene_and_every_scene_is_told_it(
    tmp_path: Path, strategy: str
) -> None:
    backend, events = BibleBackend(), []
    run_dir = RunStore(tmp_path).create(_request(strategy=strategy), backend.settings())
    script = generate(
        _request(strategy=strategy),
        backend,
        policy=fast_policy(),
        subscribers=[events.append],
        run_dir=run_dir,
    )
    assert backend.bible_calls == [1]
    kinds = [type(e) for e in events if isinstance(e, BibleFinished | SceneStarted)]
    assert kinds[0] is BibleFinished and kinds.count(BibleFinished) == 1
    assert all(BLOCK in prompt for prompt in backend.prompts.values())
    assert all(
        "  Character: Mara (keeper): a woman in a mint-green spacesuit" in p
        for p in backend.prompts.values()
    )
    assert script.bible == BIBLE and run_dir.load_bible() == BIBLE
    meta = script.meta
    assert meta.bible_start_s is not None and meta.bible_end_s is not None
    assert 0 <= meta.bible_start_s <= meta.bible_end_s <= min(t.start_s for t in meta.timeline)
    assert (meta.bible_prompt_tokens, meta.bible_completion_tokens) == (30, 40)
    scene_tokens = sum(t.prompt_tokens for t in meta.timeline)
    assert meta.prompt_tokens == scene_tokens + 30
    for scene in script.scenes:  # the look lock, on what was stored as much as returned
        assert _restates_every_look(scene.visual_prompt, present(scene), BIBLE)
    stored = run_dir.load_checkpoint()
    assert all("a woman in a mint-green spacesuit" in s.visual_prompt for s, _ in stored.values())


def test_without_the_bible_nothing_changes(tmp_path: Path) -> None:
    backend, events = BibleBackend(), []
    request = _request(bible=False)
    run_dir = RunStore(tmp_path).create(request, backend.settings())
    script = generate(
        request, backend, policy=fast_policy(), subscribers=[events.append], run_dir=run_dir
    )
    assert backend.bible_calls == [] and not any(isinstance(e, BibleFinished) for e in events)
    assert not (run_dir.path / "bible.json").exists() and script.bible is None
    assert all(BLOCK not in prompt for prompt in backend.prompts.values())
    assert script.meta.bible_start_s is None and script.meta.bible_prompt_tokens == 0
    assert all("mint-green spacesuit" not in s.visual_prompt for s in script.scenes)


def test_an_outline_run_needs_no_bible_call_its_outline_is_the_bible() -> None:
    backend, events = BibleBackend(), []
    request = _request(strategy="outline")
    script = generate(request, backend, policy=fast_policy(), subscribers=[events.append])
    assert backend.bible_calls == [] and not any(isinstance(e, BibleFinished) for e in events)
    assert any(isinstance(e, OutlineFinished) for e in events)
    assert script.outline is not None and script.bible == script.outline.bible
    assert all(BLOCK in prompt for prompt in backend.prompts.values())
    for scene in script.scenes:
        assert _restates_every_look(scene.visual_prompt, present(scene), script.bible)


def test_a_bible_without_a_cast_is_asked_again() -> None:
    backend = BibleBackend(bad=1)
    script = generate(_request(), backend, policy=fast_policy())
    assert backend.bible_calls == [1, 2] and script.bible == BIBLE


def test_a_bible_that_fails_for_good_fails_the_run_before_any_scene(tmp_path: Path) -> None:
    backend = BibleBackend(bad=10)
    request = _request()
    run_dir = RunStore(tmp_path).create(request, backend.settings())
    with pytest.raises(RunFailedError, match="the story bible failed") as failed:
        generate(request, backend, policy=fast_policy(attempts=2), run_dir=run_dir)
    assert isinstance(failed.value.__cause__, MalformedOutputError)
    assert backend.prompts == {} and run_dir.status()["status"] == "failed"


def test_resume_reuses_the_saved_bible(tmp_path: Path) -> None:
    request = _request(strategy="sequential")
    first = BibleBackend(fail_scenes=[6])
    run_dir = RunStore(tmp_path).create(request, first.settings())
    with pytest.raises(RunFailedError):
        generate(request, first, policy=fast_policy(), run_dir=run_dir)
    assert first.bible_calls == [1]
    saved = json.loads((run_dir.path / "bible.json").read_text(encoding="utf-8"))
    assert saved["characters"][0]["name"] == "Mara"
    second, events = BibleBackend(), []
    script = resume(run_dir, backend=second, policy=fast_policy(), subscribers=[events.append])
    assert second.bible_calls == []  # read back, not paid for twice
    assert sum(isinstance(e, BibleFinished) for e in events) == 1
    assert sorted(second.prompts) == list(range(6, 11))
    assert all(BLOCK in prompt for prompt in second.prompts.values())
    assert script.bible == BIBLE and [s.index for s in script.scenes] == list(range(1, 11))


def test_the_findings_of_the_finished_script_are_saved_with_it(tmp_path: Path) -> None:
    backend = BibleBackend()
    run_dir = RunStore(tmp_path).create(_request(), backend.settings())
    script = generate(_request(), backend, policy=fast_policy(), run_dir=run_dir)
    assert script.findings == script.check()
    on_disk = json.loads((run_dir.path / "script.json").read_text(encoding="utf-8"))
    assert on_disk["findings"] == [f.model_dump() for f in script.findings]
    assert on_disk["bible"] == BIBLE.model_dump()
