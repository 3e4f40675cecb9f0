"""What the simulated LLM reads in an idea: its subject and its place, by a few simple rules.

Why: a user who types "A fox opens a bakery" must get a story about a fox and a bakery. A
real model understands any sentence; the simulator reads the common shape of an idea
("<article> <subject> <verb> <object> <preposition> <place>") in en, es, fr and de, and
where it cannot, it leaves the fact out and draws its own (the idea is still quoted as
given in the outline's logline).

Rules: the subject is the first noun phrase (up to 3 words, ended by a verb, a preposition
or a stop word); the place is the object of a "place verb" (opens, guards, ...), else the
first noun phrase after a place preposition (in, at, to, ...) that starts with an article
or a capital, else nothing; the thing is the object of any other verb (finds a map).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple


class Idea(NamedTuple):
    name: str  # the lead's name when the idea gives one ("Mara opens a bakery"), else ""
    subject: str  # the subject's head words, no article: "fox", "lighthouse keeper", "zorro"
    the_subject: str  # with a definite article: "the fox", "el zorro", "der Fuchs"
    place: str  # a location's name: "bakery", "drowned city", "Paris", "panadería"
    in_place: str  # the place as a scene says where it is: "in the bakery", "en la panadería"
    thing: str  # a key object with its article: "the map"; "" if none


class _Grammar(NamedTuple):
    articles: dict[str, str]  # indefinite/definite/possessive -> the definite article
    numbers: frozenset[str]  # "two sisters": a plural subject
    stops: frozenset[str]  # words that end a noun phrase
    helpers: frozenset[str]  # "must" in "must deliver": skipped to find the verb
    places: dict[str, str]  # a place preposition -> how a scene says "in" (by article)
    place_verbs: frozenset[str]
    default_the: str  # definite article when the idea gave none


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _all(words: str, value: str) -> dict[str, str]:
    return dict.fromkeys(words.split(), value)


_EN = _Grammar(
    _all("a an the one his her their its my our this that some", "the"),
    _words("two three four five several"),
    _words(
        "must can could will would should may might has have had is are was were who that "
        "which and or but with without when while after before because"
    ),
    _words("must can could will would should may might has have had is are was were does to"),
    {"in": "in", "at": "at", "on": "on", "aboard": "aboard", "inside": "in", "into": "in"}
    | _all("to under beneath near across through from behind beyond within", "in"),
    _words(
        "opens runs owns enters explores visits guards haunts inherits manages keeps "
        "tends restores reopens cleans opened inherit open run guard explore"
    ),
    "the",
)
_ES = _Grammar(
    {"un": "el", "una": "la", "el": "el", "la": "la", "su": "el", "mi": "el"},
    _words("dos tres cuatro varios varias"),
    _words("que y o con sin debe puede quiere cuando mientras pero"),
    _words("debe puede quiere va ha"),
    _all("en a al bajo hacia desde dentro junto", "en"),
    _words("abre dirige regenta explora visita hereda custodia vigila construye reabre cuida"),
    "el",
)
_FR = _Grammar(
    {"un": "le", "une": "la", "le": "le", "la": "la", "son": "le", "sa": "la", "l'": "l'"},
    _words("deux trois quatre plusieurs"),
    _words("qui que et ou avec sans doit peut veut quand pendant mais"),
    _words("doit peut veut va a"),
    _all("dans à au aux en sous vers sur près", "dans"),
    _words("ouvre dirige tient explore visite hérite garde construit rouvre"),
    "le",
)
_DE = _Grammar(
    {"ein": "der", "eine": "die", "einen": "den", "der": "der", "die": "die", "das": "das"}
    | {"sein": "der", "seine": "die", "ihr": "der", "ihre": "die"},
    _words("zwei drei vier mehrere"),
    _words("der die das und oder mit ohne muss kann will wenn während aber"),
    _words("muss kann will soll"),
    _all("in im ins auf an am unter nach zum zur bei beim", "in"),
    _words("eröffnet öffnet führt betreibt erkundet besucht erbt bewacht baut hütet"),
    "der",
)
_GRAMMARS = {"en": _EN, "es": _ES, "fr": _FR, "de": _DE}
_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*['\u2019]?|\d+|[,.;:!?]")


def _phrase(tokens: list[str], at: int, g: _Grammar) -> tuple[str, list[str], int]:
    """The noun phrase starting at ``at``: (its article, up to 3 head words, the next index)."""
    article = ""
    if at < len(tokens) and tokens[at].lower() in g.articles:
        article, at = tokens[at].lower(), at + 1
    head: list[str] = []
    while at < len(tokens) and len(head) < 3:
        word, low = tokens[at], tokens[at].lower()
        if not word[0].isalpha() or low in g.stops or low in g.places or low in g.articles:
            break
        if head and (low in g.place_verbs or _looks_like_verb(tokens, at, g)):
            break
        head.append(word)
        at += 1
    return article, head, at


def _looks_like_verb(tokens: list[str], at: int, g: _Grammar) -> bool:
    """A word right before an article, or an English word in -s after the head's first word."""
    following = tokens[at + 1].lower() if at + 1 < len(tokens) else ""
    word = tokens[at].lower()
    english_s = g is _EN and word.endswith("s") and not word.endswith("ss") and len(word) > 3
    return following in g.articles or english_s


def _definite(article: str, head: list[str], g: _Grammar) -> str:
    """The noun phrase with a definite article ("a fox" -> "the fox"; "Paris" stays)."""
    words = " ".join(head)
    if not article and head[0][0].isupper() and g is not _DE:
        return words  # a proper name: "Paris", "Osaka"
    the = g.articles.get(article, g.default_the)
    if the in ("le", "la") and words[0].lower() in "aeiouhéèêâîôû":
        return f"l'{words}"
    return f"{the} {words}"


def _in_place(article: str, head: list[str], prep: str, g: _Grammar) -> str:
    if g is _DE:  # dative after "in": im (masculine, neuter), in der (feminine)
        return (
            f"{'in der' if article in ('eine', 'die', 'ihre', 'seine') else 'im'} {' '.join(head)}"
        )
    return f"{g.places.get(prep, next(iter(g.places.values())))} {_definite(article, head, g)}"


@lru_cache(maxsize=1024)
def read_idea(idea: str, language: str) -> Idea:
    """The idea's subject, place and thing, as far as the simple rules find them."""
    g = _GRAMMARS.get(language, _EN)
    tokens = _TOKEN.findall(idea)
    start = 0
    if tokens and (tokens[0].lower() in g.places or tokens[0].isdigit()):  # "In 2099, a ..."
        start = next((i for i, t in enumerate(tokens) if t.lower() in g.articles), 0)
    if start < len(tokens) and tokens[start].lower() in g.numbers:
        start += 1  # "Two sisters inherit ..."
    article, head, at = _phrase(tokens, start, g)
    name = ""
    proper = len(head) == 1 and not article and start == 0 and head[0][0].isupper()
    if proper and g is not _DE and not head[0].lower().endswith("s"):
        name, head = head[0], []  # "Mara opens a bakery": the idea names its lead
    subject = " ".join(head)
    if g is _EN and subject.endswith("s") and not subject.endswith("ss") and not article:
        subject = subject[:1].lower() + subject[1:-1]  # "Dragons", "two sisters": one of them
    while at < len(tokens) and tokens[at].lower() in g.helpers:
        at += 1
    verb = tokens[at].lower() if at < len(tokens) else ""
    obj_article, obj, after = _phrase(tokens, at + 1, g) if verb else ("", [], at)
    place = thing = in_place = ""
    if obj and verb in g.place_verbs:
        place, in_place = " ".join(obj), _in_place(obj_article, obj, "", g)
    else:
        if obj and (obj_article or not obj[0][0].isupper()):
            thing = _definite(obj_article, obj, g)
        for i in range(after, len(tokens) - 1):
            if tokens[i].lower() not in g.places:
                continue
            p_article, p_head, _ = _phrase(tokens, i + 1, g)
            if p_head and (p_article or p_head[0][0].isupper()):
                place, in_place = (
                    " ".join(p_head),
                    _in_place(p_article, p_head, tokens[i].lower(), g),
                )
                break
    the_subject = _definite(article, head, g) if head else ""
    if g is _EN and the_subject and subject != " ".join(head):
        the_subject = f"the {subject}"
    return Idea(name, subject, the_subject, place, in_place, thing)
