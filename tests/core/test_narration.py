"""Speaking time: words at 2.5/s, Chinese and Japanese characters at 5/s, numbers as said."""

from __future__ import annotations

import pytest

from storygen.core.narration import (
    counts_characters,
    number_words,
    speaking_seconds,
    spoken_units,
    word_budget,
    words_per_second,
)


@pytest.mark.parametrize(
    ("language", "by_characters", "rate"),
    [
        ("en", False, 2.5),
        ("es", False, 2.5),
        ("pt-BR", False, 2.5),
        ("de", False, 2.5),
        ("zh", True, 5.0),
        ("zh-TW", True, 5.0),
        ("ja", True, 5.0),
    ],
)
def test_the_rate_depends_on_how_the_language_is_written(
    language: str, by_characters: bool, rate: float
) -> None:
    assert counts_characters(language) is by_characters
    assert words_per_second(language) == rate


@pytest.mark.parametrize(
    ("number", "words"),
    [
        ("42", 2),  # forty-two
        ("1999", 4),
        ("7", 1),
        ("100", 2),  # one hundred
        ("2000", 2),  # two thousand
        ("1,000,000", 2),  # one million: a comma before three digits groups thousands
        ("1.000", 2),  # the same in German or Spanish
        ("3.5", 3),  # three point five
        ("3,5", 3),  # the same with a decimal comma
        ("%", 1),
    ],
)
def test_numbers_count_as_the_words_they_are_spoken_as(number: str, words: int) -> None:
    assert number_words(number) == words


def test_words_are_counted_whatever_the_punctuation_and_script() -> None:
    assert spoken_units("Mara climbs the stairs.", "en") == 4
    assert spoken_units("Zoë doesn't wait — she runs!", "en") == 5
    assert spoken_units("In 1999, 42% of them left.", "en") == 1 + 4 + 3 + 3
    assert spoken_units("Анна открывает дверь маяка.", "ru") == 4
    assert spoken_units("Søren går mod fyret.", "da") == 4
    assert spoken_units("   ", "en") == 0


def test_chinese_and_japanese_count_characters_not_spaces() -> None:
    assert spoken_units("李娜找到了地图。", "zh") == 7
    assert spoken_units("李娜在1999年找到了地图。", "zh") == 9 + 4
    assert spoken_units("灯台守はカタカナの地図を見つけた", "ja") == 16
    # a Latin word inside Chinese takes as long as a word does elsewhere: two characters
    assert spoken_units("李娜用Python", "zh") == 3 + 2


def test_speaking_time_and_the_budget_agree() -> None:
    twenty = " ".join(["word"] * 20)
    assert speaking_seconds(twenty, "en") == pytest.approx(8.0)
    assert word_budget(8, "en") == 20
    assert word_budget(8, "zh") == 40
    assert word_budget(7.9, "en") == 19
    assert speaking_seconds("李" * 40, "zh") == pytest.approx(8.0)


def test_the_rate_is_configurable_in_words_per_second() -> None:
    twenty = " ".join(["word"] * 20)
    assert speaking_seconds(twenty, "en", rate=2.0) == pytest.approx(10.0)
    assert word_budget(10, "en", rate=2.7) == 27
    # in Chinese and Japanese one word is two characters: 2 words/s is 4 characters/s
    assert speaking_seconds("李" * 40, "zh", rate=2.0) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="above 0"):
        speaking_seconds(twenty, "en", rate=0)
