"""The continuity check: what a viewer of the finished video would notice, found in the text.

Five kinds of finding, one scene each:

- ``unknown_character`` (only with a bible): a name in a scene's characters or a dialogue
  speaker that is not in the bible.
- ``name_variant``: a name close to a bible name, or to a name an earlier scene introduced,
  but not equal to it (Elena/Elina, Jonas/Jonah, Mara/Marah, Zoë/Zoe); reported instead of
  ``unknown_character``.
- ``look_missing``: a bible character present whose look the visual prompt does not restate
  (compared through ``plain``: case, spacing and punctuation ignored). Video models have no
  memory: the look must be in every prompt.
- ``narration_too_long``: speaking time (``core.narration``) over 1.2 x the clip's seconds.
- ``repetition``: a scene whose summary or narration nearly repeats a non-adjacent scene's.

What counts as a name, in ``characters`` and dialogue speakers:

- an entry equal to a known name (the bible's, or one an earlier scene introduced) is that
  character, however it is written ("the Keeper" in the bible is a name);
- otherwise these are extras or pronouns, never names: entries with no capital letter ("a
  fisherwoman", "old man"), entries starting with an article or a determiner in en, es, fr,
  de, pt or it ("The old man", "La pescadora", "Mara's mother"), pronouns ("She", "Ich"),
  and entries made only of generic role words ("Narrator", "Old Man", "Guard 2"); names
  in scripts without letter case (李娜) are names;
- titles are ignored ("Captain Mara" is Mara); a mention whose words are a part of a known
  name, or the other way round, is that character ("Elena" and "Dr. Elena Voss"); a word of
  3+ letters that begins a known name and is 2+ letters shorter is its short form ("Alex",
  "Alexander"). Short forms that are not prefixes (Bill, William) are other names.

Closeness (``name_variant``): equal once accents are folded (Zoë/Zoe, Søren/Soren), or within
one edit (substitution, insertion, deletion or swap) when the shorter name has 4+ letters,
two edits from 8+ letters. Shorter names (Ana/Anna, Tom/Tim, 李娜/李雅) are too often different
people to call a misspelling. Whole names and each of their words are compared.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from difflib import SequenceMatcher
from typing import Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from storygen.core.names import Cast, Known, is_extra, name_words, plain
from storygen.core.narration import counts_characters, speaking_seconds, spoken_units

__all__ = [
    "KINDS",
    "CastLike",
    "CharacterLike",
    "Finding",
    "FindingKind",
    "SceneLike",
    "ScriptLike",
    "bible_characters",
    "check",
    "counts",
    "is_extra",
    "plain",
    "summary_line",
]

FindingKind = Literal[
    "unknown_character", "name_variant", "look_missing", "narration_too_long", "repetition"
]
KINDS: tuple[FindingKind, ...] = get_args(FindingKind)

# Speech may run this much over its clip before a viewer hears it cut or rushed.
NARRATION_SLACK = 1.2
# Word-level difflib ratio from which two scenes tell the same thing (see _repetitions).
REPETITION_RATIO = 0.8
_REPETITION_MIN_UNITS = 5  # shorter texts repeat by chance ("Mara waits.")


class Finding(BaseModel):
    """One continuity problem in one scene, with the text that shows it."""

    model_config = ConfigDict(frozen=True)

    scene: int
    kind: FindingKind
    detail: str
    evidence: str


class _Speaker(Protocol):
    @property
    def speaker(self) -> str: ...


class SceneLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def characters(self) -> Sequence[str]: ...
    @property
    def dialogues(self) -> Sequence[_Speaker]: ...
    @property
    def visual_prompt(self) -> str: ...
    @property
    def narration(self) -> str: ...
    @property
    def summary(self) -> str: ...


class CharacterLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def visual_identity(self) -> str: ...


class CastLike(Protocol):
    """A bible, or an outline (whose characters are the bible when there is no other)."""

    @property
    def characters(self) -> Sequence[CharacterLike]: ...


class _RequestLike(Protocol):
    @property
    def language(self) -> str: ...


class ScriptLike(Protocol):
    @property
    def scenes(self) -> Sequence[SceneLike]: ...
    @property
    def bible(self) -> CastLike | None: ...
    @property
    def outline(self) -> CastLike | None: ...
    @property
    def request(self) -> _RequestLike: ...


def _bible_cast(bible: CastLike) -> tuple[Cast, dict[int, CharacterLike]]:
    """The bible as the check knows it, and each known name's character (by identity)."""
    known: list[Known] = []
    character: dict[int, CharacterLike] = {}
    for c in bible.characters:
        if words := name_words(c.name):
            known.append(Known(c.name, words, "the bible", c.visual_identity))
            character[id(known[-1])] = c
    return Cast(known, has_bible=True), character


def _cast_of(script: ScriptLike) -> Cast:
    bible = script.bible if script.bible is not None else script.outline
    return _bible_cast(bible)[0] if bible is not None else Cast([], has_bible=False)


def bible_characters(names: Iterable[str], bible: CastLike) -> list[CharacterLike]:
    """The bible characters these mentions name, each once, in mention order: only where a
    mention names exactly one bible character, as ``check`` decides it ("Captain Mara" is
    Mara, "Elena" is Dr. Elena Voss). The look lock uses it, so that it restates every look
    whose absence the check would report."""
    cast, character = _bible_cast(bible)
    found: dict[int, CharacterLike] = {}
    for name in names:
        verdict, whom = cast.resolve(unicodedata.normalize("NFC", name.strip()))
        if verdict == "known" and len(whom) == 1:
            found.setdefault(id(whom[0]), character[id(whom[0])])
    return list(found.values())


def _mentions(scene: SceneLike) -> Iterator[tuple[str, str]]:
    """(name as written, where it is written), each name once."""
    seen: set[str] = set()
    said = [(c, f"characters: {', '.join(scene.characters)}") for c in scene.characters]
    for d in scene.dialogues:
        line = getattr(d, "line", "")
        said.append((d.speaker, f"dialogue: {d.speaker}: {_short(line, 120)}"))
    for name, where in said:
        key = plain(name)
        if key and key not in seen:
            seen.add(key)
            yield unicodedata.normalize("NFC", name.strip()), where


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cast_findings(scene: SceneLike, cast: Cast) -> Iterator[Finding]:
    """unknown_character, name_variant and look_missing for one scene; names the scene
    introduces become known to the scenes after it (and stay unknown to the bible)."""
    k = scene.index
    for name, where in _mentions(scene):
        verdict, whom = cast.resolve(name)
        if verdict == "variant":
            of = whom[0]
            detail = f"{name} is close to {of.name} ({of.source}) but spelled differently"
            yield Finding(scene=k, kind="name_variant", detail=detail, evidence=where)
            continue
        if verdict == "new":
            cast.known.append(Known(name, name_words(name), f"scene {k}"))
        in_bible = [w for w in whom if w.source == "the bible"]
        if cast.has_bible and verdict != "extra" and not in_bible:
            detail = f"{name} is not in the story bible"
            yield Finding(scene=k, kind="unknown_character", detail=detail, evidence=where)
        elif len(in_bible) == 1:  # a name that could be two bible people has no one look
            yield from _look_finding(scene, in_bible[0])


def _look_finding(scene: SceneLike, character: Known) -> Iterator[Finding]:
    look = plain(character.look)
    if look and look not in plain(scene.visual_prompt):
        detail = f"{character.name}'s look is not in the visual prompt: {_short(character.look)}"
        evidence = f"visual prompt: {_short(scene.visual_prompt)}"
        yield Finding(scene=scene.index, kind="look_missing", detail=detail, evidence=evidence)


def _narration_finding(scene: SceneLike, language: str, rate: float | None) -> Finding | None:
    seconds = speaking_seconds(scene.narration, language, rate)
    limit = NARRATION_SLACK * scene.duration_s
    if seconds <= limit:
        return None
    units = spoken_units(scene.narration, language)
    unit = "characters" if counts_characters(language) else "words"
    detail = (
        f"narration takes {seconds:.1f} s to say ({units} {unit}); the clip is "
        f"{scene.duration_s:g} s (at most {limit:.1f} s)"
    )
    evidence = f"narration: {_short(scene.narration, 400)}"
    return Finding(scene=scene.index, kind="narration_too_long", detail=detail, evidence=evidence)


def _units(text: str, language: str) -> list[str]:
    """What repetition compares: words, or characters for zh/ja (written without spaces)."""
    folded = unicodedata.normalize("NFC", text).casefold()
    if counts_characters(language):
        return [c for c in folded if c.isalnum()]
    return re.findall(r"\w+", folded)


def _repetitions(scenes: Sequence[SceneLike], language: str) -> Iterator[Finding]:
    """A later scene that tells again what a non-adjacent earlier one told: one finding a
    pair, on the later scene, for the field (summary or narration) that repeats most.

    Compared word by word (difflib), not letter by letter: two unrelated sentences share
    half their letters but few runs of words. 0.8 means four words in five are the same run,
    in order: a rewording of one event, not two events with one cast and place. Neighbours
    are skipped: a scene often carries on its predecessor's action.
    """
    fields = ("summary", "narration")
    texts = [[_units(getattr(s, f), language) for f in fields] for s in scenes]
    matchers = [[_matcher(units) for units in scene] for scene in texts]
    pairs: set[tuple[int, int]] = set()
    for n in range(len(fields)):
        pairs |= _candidates([scene[n] for scene in texts])
    for i, j in sorted(pairs):
        if j >= i - 1:
            continue  # neighbours carry on each other's action
        best, best_ratio = "", 0.0
        for n, field in enumerate(fields):
            ratio = _ratio(matchers[j][n], texts[i][n])
            if ratio >= REPETITION_RATIO and ratio > best_ratio:
                best, best_ratio = field, ratio
        if best:
            yield _repetition(scenes[i], scenes[j], best, best_ratio)


def _candidates(texts: Sequence[list[str]]) -> set[tuple[int, int]]:
    """The pairs (later, earlier) that could repeat each other, without comparing them all
    (quadratic: a 10,000-scene script has 50 million pairs).

    difflib's ratio is at most its quick_ratio, 2M / (a + b), M the words the two share
    counted with repeats; so a pair at REPETITION_RATIO r shares at least r / (2 - r) of the
    words of each. Prefix filtering (as in set-similarity joins) then finds every such pair:
    with each text's words numbered by occurrence and ordered rarest first, two texts that
    share that many words share one among the first len - r / (2 - r) * len + 1 of each."""
    share = REPETITION_RATIO / (2 - REPETITION_RATIO)
    numbered = [_numbered(units) for units in texts]
    seen = Counter(word for words in numbered for word in words)
    index: dict[tuple[str, int], list[int]] = defaultdict(list)
    pairs: set[tuple[int, int]] = set()
    for i, words in enumerate(numbered):
        if len(words) < _REPETITION_MIN_UNITS:
            continue
        need = max(1, math.floor(share * len(words)))  # rounded down: never too few probed
        for word in sorted(words, key=lambda w: (seen[w], w))[: len(words) - need + 1]:
            pairs.update((i, j) for j in index[word])
            index[word].append(i)
    return pairs


def _numbered(units: list[str]) -> list[tuple[str, int]]:
    """Each word with how many times it came before: a multiset as a set."""
    count: Counter[str] = Counter()
    out = []
    for unit in units:
        out.append((unit, count[unit]))
        count[unit] += 1
    return out


def _matcher(units: list[str]) -> SequenceMatcher[str] | None:
    if len(units) < _REPETITION_MIN_UNITS:
        return None
    matcher: SequenceMatcher[str] = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(units)  # difflib caches the second sequence: compare many to it
    return matcher


def _ratio(matcher: SequenceMatcher[str] | None, units: list[str]) -> float:
    """difflib's ratio, after its cheap upper bounds rule most pairs out."""
    if matcher is None or len(units) < _REPETITION_MIN_UNITS:
        return 0.0
    matcher.set_seq1(units)
    if matcher.real_quick_ratio() < REPETITION_RATIO or matcher.quick_ratio() < REPETITION_RATIO:
        return 0.0
    return matcher.ratio()


def _repetition(later: SceneLike, earlier: SceneLike, field: str, ratio: float) -> Finding:
    detail = f"the {field} nearly repeats scene {earlier.index}'s ({ratio:.0%} the same)"
    evidence = (
        f"scene {later.index}: {_short(getattr(later, field), 200)} | "
        f"scene {earlier.index}: {_short(getattr(earlier, field), 200)}"
    )
    return Finding(scene=later.index, kind="repetition", detail=detail, evidence=evidence)


def check(script: ScriptLike, *, rate: float | None = None) -> list[Finding]:
    """Every continuity finding of ``script``, by scene, then kind.

    ``rate``: speaking rate in words per second (Chinese and Japanese speak it in
    characters, ``core.narration``); default by the script's language.
    """
    language = script.request.language
    scenes = sorted(script.scenes, key=lambda s: s.index)
    cast = _cast_of(script)
    found: list[Finding] = []
    for scene in scenes:
        found += _cast_findings(scene, cast)
        if (long := _narration_finding(scene, language, rate)) is not None:
            found.append(long)
    found += _repetitions(scenes, language)
    order = {kind: n for n, kind in enumerate(KINDS)}
    return sorted(found, key=lambda f: (f.scene, order[f.kind]))


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Findings by kind, every kind present (0 when none), in a fixed order."""
    by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
    for f in findings:
        by_kind[f.kind] += 1
    return by_kind


def summary_line(findings: Sequence[Finding]) -> str:
    """ "continuity: 3 findings (2 name_variant, 1 narration_too_long)"."""
    if not findings:
        return "continuity: no findings"
    parts = ", ".join(f"{n} {kind}" for kind, n in counts(findings).items() if n)
    plural = "s" if len(findings) != 1 else ""
    return f"continuity: {len(findings)} finding{plural} ({parts})"
