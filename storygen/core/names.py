"""What a name is, and when two names are one person or one misspelt: the rules are in
``core.continuity``'s docstring, which is the check's documentation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[\W_]+")


def plain(text: str) -> str:
    """``text`` as looks are compared: case, spacing and punctuation ignored, letters of
    every script kept (the look lock, ``core.looks``, must use this very rule)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFC", text).casefold())


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ARTICLES = _word_set(
    "a an the some any two three four several many few every each all both other another "
    "this that these those his her their my our your its "
    "un una unos unas el la los las le les des une du der die das ein eine einen einem "
    "einer o os as um uma il lo gli i uno"
)
_PRONOUNS = _word_set(
    "i me you he him she her it we us they them someone somebody everyone everybody "
    "nobody yo tú él ella nosotros ellos ellas je tu il elle nous vous ils elles on ich du "
    "er sie es wir ihr eu ele ela nós eles elas io lui lei noi voi loro"
)
_TITLES = _word_set(
    "mr mrs ms miss mx dr doctor prof professor captain capt sir dame lady lord madam "
    "madame monsieur mme mlle señor señora señorita don doña herr frau sr sra "
    "aunt uncle king queen prince princess father mother sister brother saint st"
)
# Role words that, alone or with each other, name nobody in particular.
_GENERIC = _word_set(
    "narrator voice over voiceover vo v.o. off offscreen crowd chorus everyone all both "
    "together others announcer radio tv speaker unknown stranger man woman men women boy "
    "girl child children kid kids guard guards soldier officer police nurse waiter waitress "
    "driver villager villagers fisherman fisherwoman mom dad mum grandma grandpa old young "
    "little elderly first second third other another group "
    "narrador narradora narrateur narratrice erzähler erzählerin voz voix stimme"
)


def is_extra(entry: str) -> bool:
    """Whether a characters entry or speaker names nobody in particular (the rules:
    ``core.continuity``)."""
    words = entry.split()
    folded = [w.casefold() for w in words]
    if not words:
        return True
    if not any(c.isupper() for c in entry) and any(c.islower() for c in entry):
        return True
    if len(words) > 1 and folded[0] in _ARTICLES:
        return True
    if re.match(r"^l['\u2019]\w", folded[0]) or re.search(r"['\u2019]s\s+\S", entry):
        return True  # "l'homme"; a possessive ("Mara's mother") describes, not names
    if len(words) == 1 and plain(folded[0]) in _PRONOUNS:
        return True
    core = [w for w in folded if not re.fullmatch(r"[#\d.()-]+", w)]
    return all(w.strip(".,:;") in _GENERIC or w.strip(".") in _TITLES for w in core)


def name_words(name: str) -> tuple[str, ...]:
    """The name's words as compared, titles in front dropped ("Dr. Elena Voss")."""
    words = [plain(w) for w in name.split()]
    words = [w for w in words if w]
    while len(words) > 1 and words[0] in _TITLES:
        words.pop(0)
    return tuple(words)


_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d"})


def _fold(key: str) -> str:
    """Accents off: Zoë and Zoe, Søren and Soren fold to one spelling."""
    decomposed = unicodedata.normalize("NFKD", key.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: one edit per substitution, insertion, deletion
    or swap of two neighbours (Elean/Elena)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def _short_form(short: str, full: str) -> bool:
    return len(short) >= 3 and len(full) - len(short) >= 2 and full.startswith(short)


def _close(a: str, b: str) -> bool:
    """Two spellings of one name (``core.continuity``); equal keys and short forms are not."""
    if a == b or _short_form(a, b) or _short_form(b, a):
        return False
    fa, fb = _fold(a), _fold(b)
    if fa == fb:
        return True
    shorter = min(len(fa), len(fb))
    allowed = 2 if shorter >= 8 else 1 if shorter >= 4 else 0
    return allowed > 0 and _edits(fa, fb) <= allowed


@dataclass(frozen=True)
class Known:
    """A name the check knows, from the bible (with its look) or from the scene that
    introduced it."""

    name: str
    words: tuple[str, ...]
    source: str  # "the bible" or "scene 3"
    look: str = ""

    def same(self, words: tuple[str, ...]) -> bool:
        mine, theirs = set(self.words), set(words)
        if mine <= theirs or theirs <= mine:
            return True
        return len(words) == 1 and any(_short_form(words[0], w) for w in self.words)

    def close(self, words: tuple[str, ...]) -> bool:
        if _close("".join(words), "".join(self.words)):
            return True
        return any(_close(w, mine) for w in words for mine in self.words)


@dataclass
class Cast:
    """The names known so far: the bible's, then those scenes introduced, in order."""

    known: list[Known]
    has_bible: bool

    def resolve(self, entry: str) -> tuple[str, list[Known]]:
        """("known", the characters it names) | ("variant", [the name it misspells]) |
        ("new", []) | ("extra", [])."""
        words = name_words(entry)
        if not words:
            return "extra", []
        exact = [k for k in self.known if "".join(k.words) == "".join(words)]
        if exact:
            return "known", exact
        if is_extra(entry):
            return "extra", []
        same = [k for k in self.known if k.same(words)]
        if same:
            return "known", same
        close = [k for k in self.known if k.close(words)]
        return ("variant", close[:1]) if close else ("new", [])
