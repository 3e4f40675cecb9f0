"""The Fountain screenplay, as screenplain (a Fountain renderer) reads it."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from screenplain.parsers.fountain import parse
from screenplain.types import Action, Dialog, Screenplay, Slug, Transition

from storygen import Dialogue, RunMeta, Scene, Script, ScriptRequest, export
from storygen.core.screenplay import interior_or_exterior, scene_heading


def _scene(index: int, location: str, **fields: object) -> Scene:
    values: dict[str, object] = {
        "index": index,
        "duration_s": 8,
        "title": f"Scene {index}",
        "location": location,
        "characters": [],
        "camera": "slow dolly-in",
        "visual_prompt": "Storm light through salt-streaked glass",
        "narration": "The ink is still wet.",
        "dialogues": [],
        "summary": "Something happens.",
    }
    return Scene.model_validate({**values, **fields})


def _script(*scenes: Scene, title: str = "The Drowned City") -> Script:
    request = ScriptRequest(idea="A keeper finds a map", duration_s=8 * len(scenes))
    started = datetime(2026, 3, 14, 12, tzinfo=UTC).timestamp()
    meta = RunMeta(
        backend="simulated", model="sim", strategy="batched", concurrency=5, started_at=started
    )
    return Script(title=title, request=request, scenes=list(scenes), meta=meta)


def _parsed(script: Script) -> Screenplay:
    return parse(io.StringIO(export.render(script, "fountain")))


def _of(play: Screenplay, kind: type) -> list:  # type: ignore[type-arg]
    return [p for p in play.paragraphs if isinstance(p, kind)]


SCRIPT = _script(
    _scene(
        1,
        "Lighthouse, lamp room",
        dialogues=[
            Dialogue(speaker="Mara Vell", line='"Where did you find this?"'),
            Dialogue(speaker="Jonás Ørsted", line="In the nets, señora."),
        ],
    ),
    _scene(2, "Open sea at dawn", narration="No one speaks."),
    _scene(3, "Sunken square", dialogues=[Dialogue(speaker="Mara Vell", line="It opens…")]),
)


def test_the_title_page_names_the_title_storygen_and_the_draft_date() -> None:
    play = _parsed(SCRIPT)
    assert play.title_page == {
        "Title": ["The Drowned City"],
        "Credit": ["Written by"],
        "Author": ["storygen"],
        "Draft date": ["2026-03-14"],
    }


def test_a_scene_heading_a_voice_over_and_each_dialogue_per_scene() -> None:
    play = _parsed(SCRIPT)
    slugs = _of(play, Slug)
    assert [str(s.line) for s in slugs] == [
        "INT. LIGHTHOUSE, LAMP ROOM",
        "EXT. OPEN SEA AT DAWN",
        "EXT. SUNKEN SQUARE",
    ]
    assert [str(s.scene_number) for s in slugs] == ["1", "2", "3"]
    assert [s.synopsis for s in slugs] == ["Scene 1", "Scene 2", "Scene 3"]
    dialogs = _of(play, Dialog)
    assert len(dialogs) == 3 + 3  # a narration a scene, and three spoken lines
    assert [str(d.character) for d in dialogs] == [
        "NARRATOR (V.O.)",
        "MARA VELL",
        "JONÁS ØRSTED",
        "NARRATOR (V.O.)",
        "NARRATOR (V.O.)",
        "MARA VELL",
    ]
    assert [str(d.blocks[0][1]) for d in dialogs][:3] == [
        "The ink is still wet.",
        '"Where did you find this?"',
        "In the nets, señora.",
    ]
    actions = [" ".join(str(line) for line in a.lines) for a in _of(play, Action)]
    assert actions == ["Storm light through salt-streaked glass"] * 3


def test_the_camera_is_kept_as_a_note_that_is_not_printed() -> None:
    text = export.render(SCRIPT, "fountain")
    assert text.count("[[Camera: slow dolly-in]]") == 3
    assert not any("dolly" in str(line) for a in _of(_parsed(SCRIPT), Action) for line in a.lines)


@pytest.mark.parametrize(
    ("speaker", "cue"),
    [
        ("mara", "MARA"),
        ("Dr. Elena Voss", "DR. ELENA VOSS"),
        ("r2-d2", "R2-D2"),
        ("東京", "東京"),  # no capitals in the script: a forced cue
        ("42", "42"),
        ("@handle", "@HANDLE"),
        ("!bang", "!BANG"),
        ("#1 fan", "#1 FAN"),
        ("= Kim", "= KIM"),
        ("  split\nname  ", "SPLIT NAME"),
        ("Mara (young)", "MARA (YOUNG)"),
        ("echo^", "ECHO"),
    ],
)
def test_any_speaker_name_becomes_a_character_cue(speaker: str, cue: str) -> None:
    script = _script(
        _scene(1, "Kitchen", dialogues=[Dialogue(speaker="Mara", line="Hello.")]),
        _scene(2, "Kitchen", dialogues=[Dialogue(speaker=speaker, line="A line.")]),
    )
    dialogs = _of(_parsed(script), Dialog)
    assert len(dialogs) == 4
    assert str(dialogs[-1].character) == cue
    assert str(dialogs[-1].blocks[0][1]) == "A line."


@pytest.mark.parametrize(
    "prompt",
    [
        "INT. A FAKE HEADING",
        "CUT TO:",
        "> centered <",
        "# a section",
        "= a synopsis",
        ".a forced heading",
        "!already forced",
        "@someone",
        "===",
        "*bold* and **strong**",
        "[[a note]] that would vanish",
        "ALL CAPS SHOUT",
    ],
)
def test_a_visual_prompt_that_looks_like_markup_stays_action(prompt: str) -> None:
    play = _parsed(_script(_scene(1, "Kitchen", visual_prompt=prompt)))
    assert len(_of(play, Slug)) == 1 and not _of(play, Transition)
    (action,) = _of(play, Action)
    assert (
        " ".join(str(line) for line in action.lines).replace("[ [", "[[").replace("] ]", "]]")
        == prompt
    )


def test_a_boneyard_opened_in_one_scene_hides_no_later_scene() -> None:
    script = _script(
        _scene(1, "Kitchen", visual_prompt="a path /* like this"),
        _scene(2, "Garden", narration="and this */ closes it"),
        _scene(3, "Attic"),
    )
    play = _parsed(script)
    assert len(_of(play, Slug)) == 3 and len(_of(play, Dialog)) == 3


def test_a_multi_line_narration_stays_one_speech() -> None:
    script = _script(_scene(1, "Kitchen", narration="First line.\n\nSecond line."))
    (dialog,) = _of(_parsed(script), Dialog)
    assert str(dialog.blocks[0][1]) == "First line. Second line."


@pytest.mark.parametrize(
    ("location", "heading"),
    [
        ("Kitchen", "INT. KITCHEN #1#"),
        ("city street at night", "EXT. CITY STREET AT NIGHT #1#"),
        ("cabin in the forest", "INT. CABIN IN THE FOREST #1#"),
        ("forest, by the old cabin", "EXT. FOREST, BY THE OLD CABIN #1#"),
        ("Marché aux puces", "INT. MARCHÉ AUX PUCES #1#"),  # words it does not know: INT.
        ("INT. Kitchen - night", "INT. KITCHEN - NIGHT #1#"),
        ("ext. beach", "EXT. BEACH #1#"),
        ("I/E car", "I/E CAR #1#"),
        ("EXT-NIGHT", ".EXT-NIGHT #1#"),  # its own prefix, in a form Fountain does not read
        ("", "INT. UNKNOWN #1#"),
        ("Room #4", "INT. ROOM 4 #1#"),
    ],
)
def test_a_scene_heading_from_the_location(location: str, heading: str) -> None:
    scene = _scene(1, location)
    assert scene_heading(scene) == heading
    (slug,) = _of(_parsed(_script(scene)), Slug)
    assert str(slug.scene_number) == "1"
    assert str(slug.line) == heading.removeprefix(".").removesuffix(" #1#")


def test_interior_or_exterior_is_a_guess_from_words() -> None:
    assert interior_or_exterior("rooftop garden") == "EXT."
    assert interior_or_exterior("the captain's cabin") == "INT."
    assert interior_or_exterior("somewhere") == "INT."


def test_the_fountain_file_is_written_by_suffix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = export.write(SCRIPT, tmp_path / "drowned.fountain")
    assert path.read_text(encoding="utf-8") == export.render(SCRIPT, "fountain")
    assert export.format_of("x.FOUNTAIN") == "fountain"
