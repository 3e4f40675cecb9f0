"""Prompt text and reading model answers back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from storygen import ScriptRequest
from storygen.backends.openai_errors import retry_after_s
from storygen.core.models import SceneDraft
from storygen.core.prompts import (
    CUT_OFF,
    extract_json,
    outline_prompt,
    parse_prompt,
    repair_request,
    scene_prompt,
)
from storygen.core.tasks import SceneContext, SceneTask

SCENE = SceneDraft(
    title="T", visual_prompt="v", narration="n", location="l", camera="c", summary="s"
).model_dump_json()


@pytest.mark.parametrize(
    "answer",
    [
        SCENE,
        f"```json\n{SCENE}\n```",
        f"<think>The user wants JSON {{not this}}.</think>\n{SCENE}",
        f"Here is your scene:\n{SCENE}\nHope it helps!",
    ],
)
def test_json_is_found_behind_fences_thinking_and_prose(answer: str) -> None:
    assert SceneDraft.model_validate(extract_json(answer)).title == "T"


def test_raw_newlines_and_tabs_inside_strings_are_read_as_written() -> None:
    """Small models and grammar-constrained servers write them; strict JSON refuses them."""
    answer = '{"title": "T", "narration": "Line one.\n\tLine two."}'
    with pytest.raises(ValueError, match="control character"):
        json.loads(answer)
    assert extract_json(answer)["narration"] == "Line one.\n\tLine two."


def test_a_cut_off_answer_is_asked_again_for_brevity_not_told_about_flags() -> None:
    """The model cannot raise --max-tokens; it can be more concise."""
    cut = repair_request(f"{CUT_OFF}1500; raise --max-tokens")
    assert "cut off" in cut and "concisely" in cut and "--max-tokens" not in cut
    other = repair_request("the answer did not match the scene schema: title missing")
    assert "title missing" in other


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("I cannot do that.", "no JSON object"), ('{"title": "T", ', "not valid JSON")],
)
def test_broken_answers_say_what_was_wrong(answer: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        extract_json(answer)


def test_scene_prompt_names_language_context_and_round_trips() -> None:
    request = ScriptRequest(idea="Un zorro\nabre una panadería", duration_s=600, language="es")
    context = SceneContext(previous=((3, "Ana llega"), (4, "Ana hornea")), beat="Ana vende pan")
    text = scene_prompt(SceneTask(request, 5, 75, 8.0, context))
    assert "Language of all text: es" in text and "Scene 4: Ana hornea" in text
    parsed = parse_prompt(text, seed=4)
    assert parsed is not None and parsed.kind == "scene"
    assert (parsed.index, parsed.total, parsed.duration_s) == (5, 75, 8.0)
    assert parsed.context.previous == context.previous and parsed.context.beat == "Ana vende pan"
    assert parsed.request.idea == "Un zorro abre una panadería" and parsed.request.seed == 4
    outline = parse_prompt(outline_prompt(request, 75))
    assert outline is not None and outline.kind == "outline" and outline.total == 75
    assert parse_prompt("Tell me a joke") is None


def test_retry_after_headers_in_all_their_forms() -> None:
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "2"}) == 2.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_s({"retry-after": when}) or 0) <= 30
    assert retry_after_s({}) is None and retry_after_s({"retry-after": "soon"}) is None
