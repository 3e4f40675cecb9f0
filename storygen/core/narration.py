"""How long narration takes to speak, and how much of it fits a clip.

A narrator speaks about 2.5 words a second in the space-separated languages (en, es, fr,
de, pt, it, ...; peers use 2.5-2.7), and about 5 characters a second in Chinese and
Japanese, which are written without spaces. One ``rate`` knob (words per second) scales
both: Chinese and Japanese take ``CHARACTERS_PER_WORD`` characters for each word of it, so
``--rate 3`` means 3 words/s and 6 characters/s.

A number counts the words it is spoken as, estimated without spelling it out in every
language: one word a digit ("42" -> 2, "1999" -> 4), a run of trailing zeros one word for
its magnitude ("100" -> 2, "1,000,000" -> 2), a decimal mark one word ("3.5" -> 3), and
"%" one word. In Chinese and Japanese the same estimate counts characters.
"""

from __future__ import annotations

import math
import re

WORDS_PER_SECOND = 2.5
CHARACTERS_PER_SECOND = 5.0
CHARACTERS_PER_WORD = CHARACTERS_PER_SECOND / WORDS_PER_SECOND
# Languages written without spaces between words, whose speech is measured in characters.
_CHARACTER_LANGUAGES = frozenset({"zh", "ja"})

# A number with its separators ("1,000", "3.5", "1.000.000"), or a "%".
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*|%")
# Letters of any script, with the marks that join a word ("don't", "well-known").
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
# Chinese ideographs, kana and the CJK marks spoken as a syllable (々, ー).
_CJK = re.compile(r"[\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")


def counts_characters(language: str) -> bool:
    """Whether ``language`` (an ISO 639 code, "zh-TW" too) is measured in characters."""
    return language.split("-")[0].lower() in _CHARACTER_LANGUAGES


def words_per_second(language: str) -> float:
    """The speaking rate in the language's unit: words, or characters for zh/ja."""
    return CHARACTERS_PER_SECOND if counts_characters(language) else WORDS_PER_SECOND


def _rate(language: str, rate: float | None) -> float:
    """``rate`` is words per second; Chinese and Japanese speak it in characters."""
    if rate is None:
        return words_per_second(language)
    if rate <= 0:
        raise ValueError(f"a speaking rate must be above 0 words per second (got {rate})")
    return rate * CHARACTERS_PER_WORD if counts_characters(language) else rate


def number_words(number: str) -> int:
    """The words a written number is spoken as (see the module's note)."""
    if number == "%":
        return 1
    groups = re.split(r"[.,]", number)
    # A separator before exactly three digits groups thousands; any other is a decimal mark.
    thousands = all(len(g) == 3 for g in groups[1:])
    if thousands:
        whole, decimals = "".join(groups), ""
    else:
        whole, decimals = "".join(groups[:-1]), groups[-1]
    stripped = whole.lstrip("0") or "0"
    significant = stripped.rstrip("0")
    words = len(significant) + (1 if len(significant) < len(stripped) else 0)
    return max(1, words) + (1 + len(decimals) if decimals else 0)


def spoken_units(text: str, language: str) -> int:
    """Words spoken (characters for zh/ja), numbers counted as the words they are said as."""
    numbers = sum(number_words(n) for n in _NUMBER.findall(text))
    rest = _NUMBER.sub(" ", text)
    if not counts_characters(language):
        return numbers + len(_WORD.findall(rest))
    characters = len(_CJK.findall(rest))
    # A Latin word inside Chinese or Japanese text is spoken as long as a word elsewhere.
    latin = len(_WORD.findall(_CJK.sub(" ", rest)))
    return numbers + characters + round(latin * CHARACTERS_PER_WORD)


def speaking_seconds(text: str, language: str, rate: float | None = None) -> float:
    """How long ``text`` takes to say, at ``rate`` words per second (default by language)."""
    return spoken_units(text, language) / _rate(language, rate)


def word_budget(seconds: float, language: str, rate: float | None = None) -> int:
    """How many words (characters for zh/ja) fit a clip of ``seconds``."""
    # The epsilon keeps 8 s x 2.5 words/s at 20 words, not 19 by a rounding error.
    return math.floor(seconds * _rate(language, rate) + 1e-9)
