"""Text of the simulated LLM: a small seeded template grammar for outlines and scenes.

Why: the default backend must write scenes that read plausibly, vary from scene to scene and
react to their context as a real model would, yet cost microseconds and repeat exactly for a
seed, so that runs, tests and benchmarks are reproducible offline and without a key.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from functools import lru_cache
from typing import NamedTuple

from storygen.backends.simulated_words import DE, EN, ES, FR
from storygen.core.models import Character, Dialogue, Outline, SceneDraft, ScriptRequest
from storygen.core.tasks import SceneTask

# Alternating feminine, masculine: index parity gives the grammatical gender of descriptions.
_NAMES = (
    *("Mara", "Elias", "Noor", "Tomas", "Ines", "Kai", "Lena", "Ravi", "Sofia", "Jonas"),
    *("Amara", "Leo", "Yara", "Mateo", "Iris", "Oskar"),
)
_ACT_EDGES = (0.1, 0.42, 0.58, 0.8, 0.94)  # setup|rising|midpoint|crisis|climax|resolution
_TALK = (0, 1, 1, 2, 2, 3)  # how many lines of dialogue a scene draws
_Words = tuple[str, ...]


class _Lang(NamedTuple):
    w: dict[str, _Words]  # flat lists; single templates are one-item lists
    acts: dict[str, tuple[_Words, ...]]  # one list per act: verbs, tword, narr
    locs: tuple[tuple[str, str], ...]  # (name, "in ..." phrase)
    low: tuple[tuple[str, str], ...]  # the same, lower-cased, to find them in text
    roles: tuple[tuple[str, str], ...]  # (feminine, masculine)


def _pairs(items: _Words) -> tuple[tuple[str, str], ...]:
    return tuple((a, b or a) for a, _, b in (x.partition("=") for x in items))


def _lang(block: str) -> _Lang:
    """Parse a block once, at import, so that each call only indexes tuples."""
    t: dict[str, tuple[_Words, ...]] = {}
    for chunk in block.split("@")[1:]:
        key, _, body = " ".join(chunk.split()).partition(" ")
        t[key] = tuple(tuple(g.split(" | ")) for g in body.split(" || "))
    w = {k: v[0] for k, v in t.items()}
    w["solo"] = tuple(x for x in w["lines"] if "{other}" not in x)
    w["objlow"] = tuple(x.lower() for x in w["obj"])
    locs = _pairs(w["loc"])
    low = tuple((a.lower(), b.lower()) for a, b in locs)
    return _Lang(w, {k: t[k] for k in ("verbs", "tword", "narr")}, locs, low, _pairs(w["roles"]))


_LANGS = {"en": _lang(EN), "es": _lang(ES), "fr": _lang(FR), "de": _lang(DE)}


class _Cast(NamedTuple):
    names: _Words
    roles: _Words
    idents: dict[str, str]  # name -> visual identity; cached and shared, never mutate
    obj: int  # the story's key object, by index: the same object in every language


def _rng(key: str) -> random.Random:
    """A generator fixed by ``key`` alone: hashlib is stable across processes, hash() is not."""
    return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=16).digest()))


def _language(request: ScriptRequest) -> tuple[str, _Lang]:
    code = request.language.split("-")[0]
    return (code, _LANGS[code]) if code in _LANGS else ("en", _LANGS["en"])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _act(i: int, total: int) -> int:
    """Act of the 0-based position i: 0 setup .. 5 resolution; the first sets up, the last ends."""
    return bisect.bisect_right(_ACT_EDGES, i / (total - 1) if total > 1 else 0.0)


@lru_cache(maxsize=512)
def _cast(seed: int, idea: str, code: str) -> _Cast:
    w, roles = _LANGS[code].w, _LANGS[code].roles
    rng = _rng(f"cast|{seed}|{idea}")  # no language in the key: the same people everywhere
    n = rng.randint(2, 4)
    people = rng.sample(range(len(_NAMES)), n)
    role_ids = (0, *rng.sample(range(1, len(roles)), n - 1))
    accs = rng.sample(range(len(w["acc"])), n)
    idents: dict[str, str] = {}
    for p, acc in zip(people, accs, strict=True):
        build, hair = rng.randrange(len(w["build"])), rng.randrange(len(w["hair"]))
        body = w["ident"][0].format(person=w["person"][p % 2], build=w["build"][build])
        idents[_NAMES[p]] = f"{body}, {w['acc'][acc]}, {w['hair'][hair]}"
    role_words = tuple(roles[r][p % 2] for r, p in zip(role_ids, people, strict=True))
    return _Cast(tuple(_NAMES[p] for p in people), role_words, idents, rng.randrange(len(w["obj"])))


def make_cast(request: ScriptRequest) -> list[Character]:
    """The story's 2-4 characters, shared by the outline and by every scene of the request."""
    cast = _cast(request.seed, request.idea, _language(request)[0])
    return [
        Character(name=n, role=r, visual_identity=cast.idents[n])
        for n, r in zip(cast.names, cast.roles, strict=True)
    ]


def make_outline(request: ScriptRequest, total: int) -> Outline:
    """Plan one beat per scene along a six-act arc, so that scenes written apart still cohere."""
    code, lang = _language(request)
    cast, w = _cast(request.seed, request.idea, code), lang.w
    names, key_obj = cast.names, w["obj"][cast.obj]
    rng = _rng(f"outline|{request.seed}|{request.idea}|{total}")
    beats: list[str] = []
    loc = rng.randrange(len(lang.locs))
    for i in range(total):
        act = _act(i, total)
        lead = names[0] if act in (0, 4, 5) and rng.random() < 0.7 else rng.choice(names)
        if i and rng.random() > 0.35:  # otherwise stay: consecutive beats often share a place
            loc = rng.randrange(len(lang.locs))
        obj = key_obj if rng.random() < 0.75 else rng.choice(w["obj"])
        beat = f"{lead} {rng.choice(lang.acts['verbs'][act])} {obj} {lang.locs[loc][1]}"
        if rng.random() < 0.5:
            beat += w["with"][0].format(other=rng.choice([n for n in names if n != lead]))
        beats.append(beat + ".")
    words = request.idea.split()
    idea, title = " ".join(words), " ".join(words[:6]) + ("…" if len(words) > 8 else "")
    idea = idea if len(idea) <= 200 else idea[:200].rsplit(" ", 1)[0] + "…"
    goal = rng.choice(w["goals"]).format(obj=key_obj)
    return Outline(
        title=_cap(title if len(words) > 8 else idea).rstrip(".,;:!?"),
        logline=w["logline"][0].format(idea=_cap(idea.rstrip(" .")), name=names[0], goal=goal),
        characters=make_cast(request),
        beats=beats,
    )


def _first_line(text: str) -> str:
    """One clean line without its final period, at most 160 characters: a summary's shape."""
    line = (text.strip().splitlines() or [""])[0].strip().rstrip(".")
    return line if len(line) <= 160 else line[:157] + "…"


def _find_name(text: str, name: str) -> int:
    """Where ``name`` occurs as a whole word ("Ines" is not in "inesperado"), else -1."""
    i = text.find(name)
    while i >= 0:
        end = i + len(name)
        if (i == 0 or not text[i - 1].isalpha()) and (end == len(text) or not text[end].isalpha()):
            return i
        i = text.find(name, i + 1)
    return -1


def _find_loc(text: str, lang: _Lang) -> int:
    low = text.lower()
    return next((i for i, (a, b) in enumerate(lang.low) if b in low or a in low), -1)


def make_scene(task: SceneTask) -> SceneDraft:
    """Write one scene: it follows the beat if any and picks up from the last summary if any."""
    req, ctx = task.request, task.context
    code, lang = _language(req)
    w = lang.w
    cast = _cast(req.seed, req.idea, code)
    names, idents = cast.names, cast.idents
    if ctx.outline and ctx.outline.characters:  # the plan's cast wins, whoever wrote it
        names = tuple(c.name for c in ctx.outline.characters)
        idents = {c.name: c.visual_identity for c in ctx.outline.characters}
    beat = _first_line(ctx.beat) if ctx.beat else ""
    prev = _first_line(ctx.previous[-1][1]) if ctx.previous else ""
    rng = _rng(f"scene|{req.seed}|{req.idea}|{task.index}|{task.total}|{beat}|{prev}")
    act = _act(task.index - 1, task.total)
    in_beat = [n for at, n in sorted((_find_name(beat, n), n) for n in names) if at >= 0]
    lead = in_beat[0] if in_beat else names[0] if rng.random() < 0.45 else rng.choice(names)
    chars = [lead, *in_beat[1:3]]
    pool = [n for n in names if n not in chars]
    rng.shuffle(pool)
    chars += pool[: max(0, rng.choice((1, 2, 2, 3)) - len(chars))]
    other = chars[1] if len(chars) > 1 else w["stranger"][0]
    loc = _find_loc(beat, lang) if beat else -1
    if loc < 0 and prev and rng.random() < 0.6:  # continuity: stay where the last scene was
        loc = _find_loc(prev, lang)
    loc_name, in_loc = lang.locs[loc if loc >= 0 else rng.randrange(len(lang.locs))]
    low = beat.lower()
    obj = next((w["obj"][i] for i, o in enumerate(w["objlow"]) if o in low), "") if beat else ""
    obj = obj or (w["obj"][cast.obj] if rng.random() < 0.6 else rng.choice(w["obj"]))
    camera = w["cam"][0] if task.index == 1 else rng.choice(w["cam"])  # first: establish
    if task.index == task.total > 1:
        camera = w["cam"][1]  # last: pull back and let go
    verb = rng.choice(lang.acts["verbs"][act])
    slots = {"name": lead, "other": other, "obj": obj, "in_loc": in_loc, "In_loc": _cap(in_loc)}
    narration = rng.choice(lang.acts["narr"][act]).format(**slots)
    if prev:
        shown = prev if prev.split(" ", 1)[0] in names else prev[:1].lower() + prev[1:]
        narration = rng.choice(w["after"]).format(prev=shown) + " " + narration
    summary = beat or f"{lead} {verb} {obj} {in_loc}"
    if not beat and len(chars) > 1 and rng.random() < 0.4:
        summary += w["with"][0].format(other=chars[1])
    n = len(chars)
    lines = rng.sample(w["lines"] if n > 1 else w["solo"], min(n, rng.choice(_TALK)))
    talk = [
        (chars[k % n], t.format(other=chars[(k + 1) % n], obj=obj)) for k, t in enumerate(lines)
    ]
    word = rng.choice(lang.acts["tword"][act])
    title = rng.choice(w["titles"]).format(word=word, loc=loc_name, **slots)
    visual = w["visual"][0].format(
        subject=f"{lead} ({idents[lead]})" if lead in idents else lead,
        verb=verb,
        light=rng.choice(w["light"]),
        style=req.style.strip() or "cinematic",
        camera=camera,
        **slots,
    )
    return SceneDraft(
        title=_cap(title),
        visual_prompt=visual,
        narration=narration,
        characters=chars,
        location=_cap(loc_name),
        dialogues=[Dialogue(speaker=s, line=_cap(x)) for s, x in talk],
        camera=camera,
        summary=summary,
    )
