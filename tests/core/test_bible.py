"""The story bible in the models and the prompts: what a scene is told, bounded; the
narration budget; and the schema a model reads, free of developer docstrings."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from pydantic import BaseModel

from storygen import ScriptRequest
from storygen.core import models
from storygen.core.errors import InvalidRequestError
from storygen.core.models import Bible, Character, Outline, RunMeta, Script
from storygen.core.prompts import (
    BIBLE_CHARACTERS,
    BIBLE_TEXT,
    bible_lines,
    bible_prompt,
    json_instruction,
    outline_prompt,
    scene_prompt,
    schema_for,
)
from storygen.core.tasks import SceneContext, SceneTask, scene_context

REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=80, bible=True)
MARA = Character(
    name="Mara", role="lighthouse keeper", visual_identity="a tall woman in a yellow raincoat"
)
BIBLE = Bible(
    characters=[MARA, Character(name="Jonas", role="her brother", visual_identity="a red beard")],
    setting="a storm-beaten island lighthouse",
    objects=["a brass map", "a cracked lantern"],
)


def _prompt(context: SceneContext, request: ScriptRequest = REQUEST, seconds: float = 8) -> str:
    return scene_prompt(SceneTask(request, 3, 10, seconds, context))


def test_a_scene_prompt_quotes_the_bible_in_the_contract_lines() -> None:
    lines = _prompt(SceneContext(bible=BIBLE)).splitlines()
    start = lines.index("Story bible (keep every name and look exactly):")
    assert lines[start + 1 : start + 5] == [
        "  Character: Mara (lighthouse keeper): a tall woman in a yellow raincoat",
        "  Character: Jonas (her brother): a red beard",
        "  Setting: a storm-beaten island lighthouse",
        "  Key objects: a brass map, a cracked lantern",
    ]


def test_without_a_bible_the_prompt_has_no_bible_block() -> None:
    assert "Story bible" not in _prompt(SceneContext())


def test_the_quoted_bible_is_bounded_in_characters_and_in_text() -> None:
    look = "a weathered face under a wide-brimmed hat, " * 6
    cast = [Character(name=f"Person{i}", role="a sailor", visual_identity=look) for i in range(12)]
    big = Bible(characters=cast, setting="an island " * 40, objects=["a very old map"] * 20)
    lines = bible_lines(big)[1:]
    quoted = [line.split(": ", 1)[1] for line in lines]
    characters = [line for line in lines if line.startswith("  Character: ")]
    assert 1 <= len(characters) <= BIBLE_CHARACTERS
    assert sum(len(text) for text in quoted) <= BIBLE_TEXT
    assert any(line.startswith("  Setting: ") for line in lines)
    assert any(line.startswith("  Key objects: ") for line in lines)
    small = Bible(characters=[MARA] * 10)
    assert len(bible_lines(small)) - 1 == BIBLE_CHARACTERS  # the count bound alone


def test_an_outline_run_is_told_its_outline_as_the_bible() -> None:
    outline = Outline(
        title="The Drowned City",
        logline="A keeper follows a map.",
        characters=BIBLE.characters,
        beats=[f"Beat {i}." for i in range(1, 11)],
        setting=BIBLE.setting,
        objects=BIBLE.objects,
    )
    assert outline.bible == BIBLE
    context = scene_context(3, 0, {}, 5, outline)
    assert context.bible == BIBLE
    text = _prompt(context)
    assert "Story: The Drowned City. A keeper follows a map." in text
    assert "  Character: Mara (lighthouse keeper): a tall woman in a yellow raincoat" in text
    assert "Characters:" not in text  # the bible block replaced the old line


def test_a_bible_call_bible_reaches_the_context_of_every_strategy_without_an_outline() -> None:
    assert scene_context(3, 2, {}, 0, None, BIBLE).bible == BIBLE
    assert scene_context(3, 2, {}, 0, None).bible is None


@pytest.mark.parametrize(
    ("language", "seconds", "line"),
    [
        ("en", 8, "Narration: at most 20 words (spoken in 8 s)."),
        ("es", 6.5, "Narration: at most 16 words (spoken in 6.5 s)."),
        ("zh", 8, "Narration: at most 40 characters (spoken in 8 s)."),
        ("ja", 4, "Narration: at most 20 characters (spoken in 4 s)."),
    ],
)
def test_every_scene_prompt_states_its_narration_budget(
    language: str, seconds: float, line: str
) -> None:
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=80, language=language)
    assert line in _prompt(SceneContext(), request, seconds).splitlines()


def test_a_repair_prompt_carries_the_scenes_after_it() -> None:
    text = _prompt(SceneContext(previous=((2, "Mara climbs"),), following=((4, "Mara sails"),)))
    lines = text.splitlines()
    after = lines.index("Story after this scene:")
    assert lines[after + 1] == "  Scene 4: Mara sails"
    assert lines.index("Story so far (latest scenes):") < after


def test_the_bible_and_outline_prompts_ask_for_cast_setting_and_objects() -> None:
    text = bible_prompt(REQUEST)
    instructions = [line for line in text.splitlines() if not line.startswith(("Idea", "Style"))]
    assert instructions[1].startswith("Write the story bible")
    for prompt in (text, outline_prompt(REQUEST, 10)):
        assert "at most 8 characters" in prompt and "setting" in prompt
        assert "key objects" in prompt


def _docstrings() -> list[str]:
    """Every class docstring of the models module: text written for developers."""
    return [
        inspect.cleandoc(cls.__doc__)
        for _, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == models.__name__ and cls.__doc__
    ]


def _fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    shapes = [schema, *schema.get("$defs", {}).values()]
    return [(name, spec) for shape in shapes for name, spec in shape["properties"].items()]


@pytest.mark.parametrize("kind", ["scene", "outline", "bible"])
def test_the_schema_a_model_reads_has_field_descriptions_and_no_docstrings(kind: Any) -> None:
    """What a model reads: the instruction with the schema, as sent in every mode."""
    read = json_instruction(kind)
    assert len(_docstrings()) >= 5
    for doc in _docstrings():
        assert doc not in read and doc.split(":")[0] not in read
    assert "Creative Fields" not in read and "creative fields" not in read
    for name, spec in _fields(schema_for(kind)):
        assert len(spec.get("description", "")) >= 10, f"{kind}.{name} has no description"
    sent = json.loads(read.split("JSON schema: ", 1)[1])
    assert sent == schema_for(kind)


def test_new_request_fields_have_defaults_and_bounds() -> None:
    request = ScriptRequest(idea="A", duration_s=8)
    assert (request.bible, request.repair, request.repair_budget) == (False, False, 0.1)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(InvalidRequestError, match="repair_budget"):
            ScriptRequest.build(idea="A", duration_s=8, repair_budget=bad)
    assert ScriptRequest.build(idea="A", duration_s=8, repair_budget=1).repair_budget == 1


def test_old_outlines_run_metas_and_scripts_still_load() -> None:
    """Files written before the bible: every new field has its default."""
    old_outline = {"title": "T", "logline": "L", "characters": [MARA.model_dump()], "beats": ["b"]}
    outline = Outline.model_validate(old_outline)
    assert (outline.setting, outline.objects) == ("", [])
    old_meta = {"backend": "simulated", "model": "m", "strategy": "batched", "concurrency": 5}
    meta = RunMeta.model_validate(old_meta)
    assert meta.bible_start_s is None and meta.repair_calls == 0 and meta.findings_before is None
    old_script = {
        "title": "T",
        "request": {"idea": "A", "duration_s": 8},
        "scenes": [],
        "meta": meta.model_dump(),
    }
    script = Script.model_validate_json(json.dumps(old_script))
    assert script.bible is None and script.findings == []
    assert script.request.bible is False


def test_bible_tokens_are_counted_with_the_run() -> None:
    meta = RunMeta(
        backend="b",
        model="m",
        strategy="batched",
        concurrency=5,
        outline_prompt_tokens=1,
        bible_prompt_tokens=10,
        bible_completion_tokens=100,
    )
    assert (meta.prompt_tokens, meta.completion_tokens) == (11, 100)
