"""The simulated LLM's text: deterministic, varied, multilingual and aware of its context."""

from __future__ import annotations

import time

from storygen.backends.simulated_text import make_cast, make_outline, make_scene
from storygen.core.models import ScriptRequest
from storygen.core.tasks import SceneContext, SceneTask

IDEA = "A lighthouse keeper finds a map to a drowned city"


def _req(**fields: object) -> ScriptRequest:
    return ScriptRequest(**{"idea": IDEA, "duration_s": 600, **fields})


def _task(req: ScriptRequest, k: int, context: SceneContext | None = None) -> SceneTask:
    return SceneTask(
        request=req, index=k, total=75, duration_s=8.0, context=context or SceneContext()
    )


def test_same_inputs_give_equal_outputs_and_seed_changes_them() -> None:
    req = _req(seed=7)
    assert make_outline(req, 75) == make_outline(_req(seed=7), 75)
    assert make_scene(_task(req, 10)) == make_scene(_task(_req(seed=7), 10))
    assert make_cast(req) == make_cast(_req(seed=7))
    other = _req(seed=8)
    assert make_outline(other, 75) != make_outline(req, 75)
    scenes = [make_scene(_task(req, k)) for k in range(1, 11)]
    assert scenes != [make_scene(_task(other, k)) for k in range(1, 11)]


def test_outline_has_one_beat_per_scene_and_the_cast() -> None:
    req = _req(seed=3)
    cast = make_cast(req)
    outline = make_outline(req, 75)
    assert 2 <= len(cast) <= 4
    assert len({c.name for c in cast}) == len(cast)
    assert all(c.role and c.visual_identity for c in cast)
    assert outline.characters == cast
    assert len(outline.beats) == 75
    assert len(make_outline(req, 1).beats) == 1
    names = [c.name for c in cast]
    assert all(any(n in beat for n in names) for beat in outline.beats)
    assert IDEA.lower() in outline.logline.lower()
    assert outline.title


def test_cast_is_the_same_with_or_without_outline_and_across_languages() -> None:
    req = _req(seed=11)
    names = {c.name for c in make_outline(req, 20).characters}
    assert {c.name for c in make_cast(_req(seed=11, language="de"))} == names
    for k in range(1, 76):
        assert set(make_scene(_task(req, k)).characters) <= names


def test_scene_with_a_beat_uses_its_character_and_location() -> None:
    req = _req(seed=5)
    outline = make_outline(req, 75)
    for k in (1, 20, 37, 60, 75):
        beat = outline.beats[k - 1]
        ctx = SceneContext(outline=outline, beat=beat)
        scene = make_scene(_task(req, k, ctx))
        assert beat.startswith(scene.characters[0])
        assert scene.location.lower() in beat.lower()
        assert scene.summary == beat.rstrip(".")


def test_scene_with_previous_context_references_the_last_summary() -> None:
    req = _req(seed=2)
    last = "Mara finds the map in the old lighthouse"
    ctx = SceneContext(previous=((3, "Elias leaves the harbor"), (4, last)))
    scene = make_scene(_task(req, 5, ctx))
    assert last.lower() in scene.narration.lower()
    assert "elias leaves the harbor" not in scene.narration.lower()
    alone = make_scene(_task(req, 5))
    assert last.lower() not in alone.narration.lower()
    assert alone != scene


def test_other_languages_write_different_text_and_unknown_falls_back_to_english() -> None:
    outlines = {lang: make_outline(_req(language=lang), 12) for lang in ("en", "es", "fr", "de")}
    scenes = {lang: make_scene(_task(_req(language=lang), 30)) for lang in outlines}
    for lang in ("es", "fr", "de"):
        assert outlines[lang].beats != outlines["en"].beats
        assert scenes[lang].narration != scenes["en"].narration
        assert scenes[lang].camera != scenes["en"].camera
    assert make_outline(_req(language="pt-BR"), 12) == outlines["en"]
    assert make_scene(_task(_req(language="xyz"), 30)) == scenes["en"]
    assert make_scene(_task(_req(language="es-MX"), 30)) == scenes["es"]


def test_scenes_vary_across_a_long_script() -> None:
    req = _req(seed=9)
    scenes = [make_scene(_task(req, k)) for k in range(1, 76)]
    assert len({s.title for s in scenes}) >= 15
    assert len({s.location for s in scenes}) >= 6
    assert len({s.camera for s in scenes}) >= 5
    assert len({len(s.dialogues) for s in scenes}) >= 3


def test_speakers_are_among_characters_and_summary_is_one_short_line() -> None:
    req = _req(seed=4)
    outline = make_outline(req, 75)
    for k in range(1, 76):
        ctx = SceneContext(previous=((k - 1, outline.beats[k - 2]),) if k > 1 else ())
        for scene in (make_scene(_task(req, k, ctx)), make_scene(_task(req, k))):
            assert 1 <= len(scene.characters) <= 3
            assert len(scene.dialogues) <= 3
            assert all(d.speaker in scene.characters for d in scene.dialogues)
            assert "\n" not in scene.summary
            assert 0 < len(scene.summary) <= 160


def test_summary_stays_one_line_for_a_multiline_beat() -> None:
    req = _req()
    cast = make_cast(req)
    beat = f"{cast[0].name} waits on the frozen lake.\nSecond line of a chatty model."
    scene = make_scene(_task(req, 8, SceneContext(beat=beat)))
    assert scene.summary == f"{cast[0].name} waits on the frozen lake"
    assert scene.characters[0] == cast[0].name
    assert scene.location == "Frozen lake"


def test_style_and_opening_and_closing_cameras() -> None:
    req = _req(style="hand-drawn watercolor")
    first, last = make_scene(_task(req, 1)), make_scene(_task(req, 75))
    assert "hand-drawn watercolor" in first.visual_prompt
    assert first.camera == "aerial drone shot"
    assert last.camera == "slow pull back"


def test_ten_thousand_scenes_are_fast() -> None:
    req = _req()
    tasks = [_task(req, k % 75 + 1) for k in range(10_000)]
    start = time.perf_counter()
    for task in tasks:
        make_scene(task)
    assert time.perf_counter() - start < 2.0  # about 0.2 s here; loose for slow CI machines
