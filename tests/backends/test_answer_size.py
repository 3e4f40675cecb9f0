"""max_tokens is sized to the answer: a scene's clip and language, an outline's beats."""

from __future__ import annotations

import pytest
from test_runaway import scene_answers

from storygen.backends.simulated_text import write_answer
from storygen.core.answer_size import expected_tokens, token_limit
from storygen.core.bounds import MAX_TOKENS
from storygen.core.models import ScriptRequest
from storygen.core.prompts import bible_prompt, estimate_tokens, outline_prompt, parse_prompt
from storygen.sim.chat import _with_raw_control_characters


def test_a_scene_of_8_s_asks_far_less_than_the_old_flat_1500() -> None:
    expected = expected_tokens("scene", "en", duration_s=8)
    assert 300 < expected < 500  # a real scene answers in 150-300 tokens
    assert 2 * 300 <= token_limit(expected) < 1000


def test_a_longer_clip_and_a_language_written_in_characters_ask_more() -> None:
    short = expected_tokens("scene", "en", duration_s=8)
    assert expected_tokens("scene", "en", duration_s=30) > short
    assert expected_tokens("scene", "zh", duration_s=8) > short
    assert expected_tokens("scene", "ja-JP", duration_s=8) > short


def test_an_outline_grows_with_its_beats_up_to_the_ceiling() -> None:
    six, seventy_five = (expected_tokens("outline", "en", scenes=n) for n in (6, 75))
    assert seventy_five - six >= 69 * 30  # a sentence a beat, 25 words and its quotes
    assert token_limit(expected_tokens("outline", "en", scenes=7200)) == MAX_TOKENS.high
    assert token_limit(1) == MAX_TOKENS.low


@pytest.mark.parametrize("language", ["en", "de", "zh"])
def test_every_simulated_scene_fits_its_expected_size_even_pretty_printed(language: str) -> None:
    for compact, expected in scene_answers(language, seconds=8):
        assert estimate_tokens(_with_raw_control_characters(compact)) <= expected


@pytest.mark.parametrize("scenes", [6, 75, 900])
def test_simulated_outlines_and_bibles_fit_their_expected_size(scenes: int) -> None:
    request = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=8 * scenes)
    for kind, prompt in (
        ("outline", outline_prompt(request, scenes)),
        ("bible", bible_prompt(request)),
    ):
        call = parse_prompt(prompt)
        assert call is not None
        text = _with_raw_control_characters(write_answer(call, 1).model_dump_json())
        assert estimate_tokens(text) <= expected_tokens(kind, "en", scenes=scenes)  # type: ignore[arg-type]
