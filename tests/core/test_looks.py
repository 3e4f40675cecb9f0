"""The look lock: a scene's visual prompt restates the bible look of everyone in it."""

from __future__ import annotations

from storygen.core.continuity import plain
from storygen.core.looks import lock_looks
from storygen.core.models import (
    Bible,
    Character,
    Dialogue,
    RunMeta,
    Scene,
    SceneDraft,
    Script,
    ScriptRequest,
)

BIBLE = Bible(
    characters=[
        Character(name="Mara", role="keeper", visual_identity="a tall woman in a yellow raincoat"),
        Character(name="Jonas", role="brother", visual_identity="a red beard, a grey cap."),
        Character(name="李娜", role="cartographer", visual_identity="round glasses, a blue coat"),
    ]
)


def _draft(prompt: str, characters: list[str], speakers: tuple[str, ...] = ()) -> SceneDraft:
    return SceneDraft(
        title="T",
        visual_prompt=prompt,
        narration="n",
        characters=characters,
        location="the lighthouse",
        dialogues=[Dialogue(speaker=s, line="Hello.") for s in speakers],
        camera="wide",
        summary="s",
    )


def test_a_missing_look_is_appended_as_name_and_look() -> None:
    locked = lock_looks(_draft("A stormy cliff at dusk.", ["Mara"]), BIBLE)
    assert locked.visual_prompt == (
        "A stormy cliff at dusk. Mara: a tall woman in a yellow raincoat."
    )


def test_speakers_count_as_present_and_each_look_is_added_once() -> None:
    draft = _draft("Rain.", ["Jonas", "jonas"], speakers=("李娜", "Jonas"))
    locked = lock_looks(draft, BIBLE)
    assert locked.visual_prompt == (
        "Rain. Jonas: a red beard, a grey cap. 李娜: round glasses, a blue coat."
    )


def test_a_look_already_restated_is_left_alone_whatever_its_case_spacing_or_punctuation() -> None:
    draft = _draft("Mara -- A TALL woman in a yellow  rain coat -- climbs.", ["Mara"])
    assert lock_looks(draft, BIBLE) is draft


def test_people_outside_the_bible_and_unnamed_extras_are_left_alone() -> None:
    draft = _draft("A harbour.", ["Elina", "a fisherwoman"], speakers=("the old man",))
    assert lock_looks(draft, BIBLE) is draft
    assert lock_looks(_draft("A harbour.", ["Mara"]), Bible(characters=[])).visual_prompt == (
        "A harbour."
    )


def test_an_empty_visual_prompt_gets_the_look_alone() -> None:
    assert lock_looks(_draft("  ", ["Mara"]), BIBLE).visual_prompt == (
        "Mara: a tall woman in a yellow raincoat."
    )


def test_a_mention_with_a_title_or_part_of_a_name_is_locked_as_the_check_resolves_it() -> None:
    bible = Bible(
        characters=[
            Character(name="Dr. Elena Voss", role="diver", visual_identity="a silver wetsuit"),
            *BIBLE.characters,
        ]
    )
    locked = lock_looks(_draft("Deep water.", ["Elena", "Captain Mara"]), bible)
    assert locked.visual_prompt == (
        "Deep water. Dr. Elena Voss: a silver wetsuit. Mara: a tall woman in a yellow raincoat."
    )
    scene = Scene.from_draft(locked, 1, 8.0)
    request = ScriptRequest(idea="A", duration_s=8)
    meta = RunMeta(backend="b", model="m", strategy="batched", concurrency=1)
    script = Script(title="T", request=request, bible=bible, scenes=[scene], meta=meta)
    assert [f for f in script.check() if f.kind == "look_missing"] == []


def test_plain_keeps_letters_of_every_script() -> None:
    assert plain("Søren, 李娜!  Zoë") == "søren李娜zoë"
