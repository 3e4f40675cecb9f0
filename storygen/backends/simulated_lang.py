"""The simulated LLM's word lists, parsed once at import, and the draws it makes from them.

Shared by the grammar (``simulated_text``) and the cast (``simulated_cast``).
"""

from __future__ import annotations

import hashlib
import random
from typing import NamedTuple

from storygen.backends.simulated_words import DE, EN, ES, FR

Words = tuple[str, ...]


class Lang(NamedTuple):
    code: str
    w: dict[str, Words]  # flat lists; single templates are one-item lists
    acts: dict[str, tuple[Words, ...]]  # one list per act: verbs, tword, narr
    locs: tuple[tuple[str, str], ...]  # (name, "in ..." phrase)
    roles: tuple[tuple[str, str], ...]  # (feminine, masculine)


def _pairs(items: Words) -> tuple[tuple[str, str], ...]:
    return tuple((a, b or a) for a, _, b in (x.partition("=") for x in items))


def _lang(code: str, block: str) -> Lang:
    """Parse a block once, at import, so that each call only indexes tuples."""
    t: dict[str, tuple[Words, ...]] = {}
    for chunk in block.split("@")[1:]:
        key, _, body = " ".join(chunk.split()).partition(" ")
        t[key] = tuple(tuple(g.split(" | ")) for g in body.split(" || "))
    w = {k: v[0] for k, v in t.items()}
    w["solo"] = tuple(x for x in w["lines"] if "{other}" not in x)
    acts = {k: t[k] for k in ("verbs", "tword", "narr")}
    return Lang(code, w, acts, _pairs(w["loc"]), _pairs(w["roles"]))


LANGS = {
    code: _lang(code, block) for code, block in (("en", EN), ("es", ES), ("fr", FR), ("de", DE))
}


def language(code: str) -> Lang:
    """The word lists of a language tag ("es-MX" is es); English for any other."""
    return LANGS.get(code.split("-")[0], LANGS["en"])


def rng(key: str) -> random.Random:
    """A generator fixed by ``key`` alone: hashlib is stable across processes, hash() is not."""
    return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=16).digest()))


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def find_word(text: str, word: str) -> int:
    """Where ``word`` occurs as a whole word ("Ines" is not in "inesperado"), else -1."""
    i = text.find(word)
    while i >= 0:
        end = i + len(word)
        if (i == 0 or not text[i - 1].isalpha()) and (end == len(text) or not text[end].isalpha()):
            return i
        i = text.find(word, i + 1)
    return -1
