"""A streamed answer that runs away is seen early; an honest answer never is.

The honest answers are the simulator's own (the text serve-sim streams), compact and
pretty-printed with raw newlines as grammar-bound servers write them, fed in chunks the
size serve-sim sends and the size a real server sends (a token or so)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storygen.backends.runaway import (
    LOOP_SPAN,
    WHITESPACE_RUN,
    RunawayWatch,
    runaway_feedback,
)
from storygen.backends.simulated_text import write_answer
from storygen.core.answer_size import expected_tokens
from storygen.core.models import Scene, ScriptRequest
from storygen.core.prompts import bible_prompt, outline_prompt, parse_prompt, scene_prompt
from storygen.core.tasks import SceneTask, scene_context
from storygen.sim.chat import _with_raw_control_characters


def chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def first_reason(watch: RunawayWatch, text: str, size: int = 16) -> tuple[str | None, int]:
    """Why the watch cut ``text`` fed in chunks, and how many characters it had read."""
    read = 0
    for piece in chunks(text, size):
        read += len(piece)
        if (reason := watch.feed(piece)) is not None:
            return reason, read
    return None, read


def scene_answers(language: str, seconds: float = 8) -> Iterator[tuple[str, int]]:
    """Each answer of a 75-scene script as the simulator writes it, with its expected size."""
    request = ScriptRequest(
        idea="A lighthouse keeper finds a map to a drowned city",
        duration_s=75 * seconds,
        seconds_per_scene=seconds,
        language=language,
    )
    expected = expected_tokens("scene", language, duration_s=seconds)
    written: dict[int, Scene] = {}
    for k in range(1, 76):
        task = SceneTask(request, k, 75, seconds, scene_context(k, k - 1, written, 5, None))
        call = parse_prompt(scene_prompt(task))
        assert call is not None
        draft = write_answer(call, 1)
        written[k] = Scene.from_draft(draft, k, seconds)  # type: ignore[arg-type]
        yield draft.model_dump_json(), expected


@pytest.mark.parametrize("language", ["en", "es", "de", "zh"])
@pytest.mark.parametrize("size", [16, 3])
def test_no_simulated_answer_of_a_75_scene_script_is_cut(language: str, size: int) -> None:
    for compact, expected in scene_answers(language):
        for text in (compact, _with_raw_control_characters(compact)):
            assert first_reason(RunawayWatch(expected), text, size) == (None, len(text))


def test_an_outline_of_75_beats_and_a_bible_are_not_cut() -> None:
    request = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=600)
    for kind, prompt in (
        ("outline", outline_prompt(request, 75)),
        ("bible", bible_prompt(request)),
    ):
        call = parse_prompt(prompt)
        assert call is not None
        compact = write_answer(call, 1).model_dump_json()
        expected = expected_tokens(kind, "en", scenes=75)  # type: ignore[arg-type]
        for text in (compact, _with_raw_control_characters(compact)):
            assert first_reason(RunawayWatch(expected), text, 4)[0] is None


START = '{"summary": "Mara finds the map", "title": "The map", "visual_prompt": "'


def test_whitespace_padding_is_cut_within_a_few_dozen_characters() -> None:
    watch = RunawayWatch(440)
    text = START + "   \n  " * 2000
    reason, read = first_reason(watch, text)
    assert reason is not None and "whitespace characters in a row" in reason
    assert read <= len(START) + WHITESPACE_RUN + 16


def test_a_repeated_phrase_is_cut_once_it_covers_a_few_hundred_characters() -> None:
    watch = RunawayWatch(440)
    text = START + "and the light, " * 2000
    reason, read = first_reason(watch, text)
    assert reason is not None and "light" in reason and "16 times in a row" in reason
    assert read <= len(START) + LOOP_SPAN + 2 * 16 + 32
    assert watch.tokens < 200  # far fewer than the 880 a scene of 8 s may take


def test_a_repeated_sentence_is_a_loop_too() -> None:
    sentence = "The light fades over the sea and Mara turns back to the old door. "
    reason, _ = first_reason(RunawayWatch(440), START + sentence * 50)
    assert reason is not None and "times in a row" in reason


def test_an_answer_far_beyond_its_expected_size_is_cut() -> None:
    words = " ".join(f"word{i}" for i in range(5000))  # varied: neither blank nor a loop
    watch = RunawayWatch(100)
    reason, read = first_reason(watch, START + words)
    assert reason is not None and "more than 3x the 100 expected" in reason
    assert 300 * 4 <= read <= 301 * 4 + 16


def test_a_server_sending_a_token_a_chunk_is_counted_by_chunks() -> None:
    watch = RunawayWatch(10)
    reasons = [watch.feed(w) for w in ["a", "b", "c"] * 11]
    assert reasons[:30] == [None] * 30 and reasons[30] is not None


def test_a_reasoning_models_thoughts_do_not_count_toward_its_size() -> None:
    thoughts = "<think>" + " ".join(f"idea{i}" for i in range(400)) + "</think>"
    watch = RunawayWatch(100)
    assert first_reason(watch, thoughts + START + '"}') == (None, len(thoughts + START) + 2)
    assert watch.tokens < 30


def test_the_feedback_says_what_ran_away_and_what_to_do() -> None:
    message = runaway_feedback("64 whitespace characters in a row", 440)
    assert message == (
        "your previous answer ran away: 64 whitespace characters in a row; answer with the "
        "JSON object only, at most 440 tokens, no padding"
    )
