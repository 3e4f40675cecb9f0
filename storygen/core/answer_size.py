"""How long an answer should be, in tokens, from what it is asked to hold.

A flat max_tokens of 1,500 let a small model that looped under a JSON grammar write a
thousand tokens of padding into a 250-token scene. The expected size is read from the
schema's fields and their stated bounds instead: a scene's narration budget (its clip's
length and language), an outline's beats, the bible's cast limit. It is generous on
purpose (a real scene answers in 150-300 tokens; a scene of 8 s is expected at about 440),
since cutting a good answer costs a retry; ``token_limit`` doubles it again.
"""

from __future__ import annotations

import math

from storygen.core.bounds import MAX_TOKENS
from storygen.core.narration import CHARACTERS_PER_WORD, counts_characters, word_budget
from storygen.core.prompts import BIBLE_CHARACTERS, Kind, parse_prompt

# Tokens per word (per character in Chinese and Japanese): English is about 1.3, other
# Latin-script languages and CJK characters more, depending on the tokenizer.
TOKENS_PER_UNIT = 1.5
# Keys, quotes, brackets and a pretty-printer's indentation of one answer.
JSON_TOKENS = 80
# Words of each scene field the schema bounds by description, not by the clip's length.
SCENE_WORDS = {
    "summary": 30,
    "title": 10,
    "visual_prompt": 120,  # one paragraph with every character's full look
    "characters": 15,
    "location": 10,
    "camera": 15,
}
CHARACTER_WORDS = 30  # a name, a role and a look in one short phrase
CHARACTER_JSON_TOKENS = 20
BEAT_WORDS = 25  # one sentence per scene
BEAT_JSON_TOKENS = 4
PLAN_WORDS = 12 + 30 + 20 + 25  # title, logline, setting, key objects
# max_tokens is this many times the expected answer: room for a wordy model, and a
# streamed answer is cut as a runaway only beyond 3x (backends.runaway).
LIMIT_FACTOR = 2.0
# A reasoning model's max_completion_tokens holds its hidden thoughts as well.
REASONING_TOKENS = 4096


def _units_per_word(language: str) -> float:
    """The language's unit for a word: a word, or two characters in Chinese and Japanese."""
    return CHARACTERS_PER_WORD if counts_characters(language) else 1.0


def _tokens(words: float, language: str) -> float:
    return words * _units_per_word(language) * TOKENS_PER_UNIT


def scene_tokens(duration_s: float, language: str) -> int:
    """A scene: its fixed fields, and narration and dialogue within the clip's budget."""
    spoken = 2 * word_budget(duration_s, language) * TOKENS_PER_UNIT  # narration + lines
    return math.ceil(_tokens(sum(SCENE_WORDS.values()), language) + spoken + JSON_TOKENS)


def _cast_tokens(language: str) -> float:
    per_character = _tokens(CHARACTER_WORDS, language) + CHARACTER_JSON_TOKENS
    return BIBLE_CHARACTERS * per_character


def bible_tokens(language: str) -> int:
    """The story bible: at most BIBLE_CHARACTERS characters, a setting and key objects."""
    return math.ceil(_cast_tokens(language) + _tokens(20 + 25, language) + JSON_TOKENS)


def outline_tokens(scenes: int, language: str) -> int:
    """An outline: the plan, its cast, and one sentence a scene."""
    beats = scenes * (_tokens(BEAT_WORDS, language) + BEAT_JSON_TOKENS)
    return math.ceil(_tokens(PLAN_WORDS, language) + _cast_tokens(language) + beats + JSON_TOKENS)


def expected_tokens(kind: Kind, language: str, *, duration_s: float = 8.0, scenes: int = 1) -> int:
    """The generous expected size of an answer of ``kind``."""
    if kind == "scene":
        return scene_tokens(duration_s, language)
    if kind == "outline":
        return outline_tokens(scenes, language)
    return bible_tokens(language)


def expected_for_prompt(kind: Kind, prompt: str) -> int:
    """The expected size of the answer to one of storygen's prompts, from what it asks
    (the clip's length and language, the outline's scenes): read back from the text, so
    that a live call and a Batch API line of the same prompt ask the same."""
    call = parse_prompt(prompt)
    if call is None:
        return expected_tokens(kind, "en")
    language, seconds = call.request.language, call.duration_s or 8.0
    return expected_tokens(kind, language, duration_s=seconds, scenes=call.total)


def token_limit(expected: int) -> int:
    """max_tokens for an answer expected at ``expected`` tokens, within MAX_TOKENS."""
    limit = math.ceil(LIMIT_FACTOR * expected)
    return int(min(MAX_TOKENS.high, max(MAX_TOKENS.low, limit)))
