"""Who a simulated call writes about: the people its prompt names, or people it invents.

A real model keeps the names and looks it is told, and invents those it is not, afresh in
every call. So: a bible's people are kept exactly (names, roles, looks); people named in the
summaries it is shown are kept by name, their looks invented for this call; a call told of
nobody invents a cast of its own. An invented name is sometimes a variant spelling (Mara,
Marah), as two writers who were not told a name spell it two ways; a name the call was told
is never respelled, and an invented extra is never a variant of a name it was told.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from storygen.backends.simulated_idea import Idea
from storygen.backends.simulated_lang import Lang
from storygen.core.models import Character
from storygen.core.prompts import ParsedCall

# Spellings of one name, the usual one first; groups alternate feminine and masculine (the
# index's parity gives the grammatical gender of a look). No two groups are close enough
# for the continuity check to call one a variant of the other.
NAME_GROUPS: tuple[tuple[str, ...], ...] = (
    *(("Mara", "Marah"), ("Elias", "Elías"), ("Noor", "Nour"), ("Tomas", "Tomás")),
    *(("Ines", "Inès"), ("Kai",), ("Hana", "Hanna"), ("Ravi",), ("Sofia", "Sofía")),
    *(("Jonas", "Jonah"), ("Elena", "Elina"), ("Leo", "Léo"), ("Zoe", "Zoë")),
    *(("Mateo", "Matteo"), ("Iris",), ("Oskar", "Oscar")),
)
VARIANT = 0.2  # how often an invented name takes a variant spelling
_GROUP = {spelling: i for i, group in enumerate(NAME_GROUPS) for spelling in group}
_NAMES = re.compile(r"(?<!\w)(" + "|".join(sorted(_GROUP, key=len, reverse=True)) + r")(?!\w)")


@dataclass(frozen=True)
class Cast:
    """The people one call writes about, the lead first."""

    names: tuple[str, ...]
    looks: dict[str, str]  # as told, or invented for this call
    roles: dict[str, str]  # as told or invented; "" when only a name was told
    subject: str = ""  # who the idea's subject is ("the fox"), if the call can tell


def called(lang: Lang, idea: Idea, name: str) -> str:
    """The name beside the idea's subject: "Mara the fox", "el zorro Mara"."""
    return lang.w["called"][0].format(name=name, subject=idea.the_subject)


def _look(r: random.Random, lang: Lang, gender: int, subject: str) -> str:
    w = lang.w
    build, acc = r.choice(w["build"]), r.choice(w["acc"])
    if subject:  # the idea's fox looks like a fox
        return f"{w['ident'][0].format(person=subject, build=build)}, {acc}"
    body = w["ident"][0].format(person=w["person"][gender], build=build)
    return f"{body}, {acc}, {r.choice(w['hair'])}"


def invent(
    r: random.Random, lang: Lang, idea: Idea, count: int, taken: set[int], lead: bool
) -> list[Character]:
    """``count`` new people, none from the name groups ``taken``; with ``lead``, the first
    is the idea's subject (named as the idea names it, if it does)."""
    people: list[Character] = []
    roles = list(range(1, len(lang.roles)))
    r.shuffle(roles)
    for n in range(count):
        first = lead and n == 0
        if first and idea.name:
            name, gender = idea.name, _GROUP.get(idea.name, 0) % 2
        else:
            group = r.choice([g for g in range(len(NAME_GROUPS)) if g not in taken])
            spellings = NAME_GROUPS[group]
            variant = len(spellings) > 1 and r.random() < VARIANT
            name, gender = (r.choice(spellings[1:]) if variant else spellings[0]), group % 2
        taken.add(_GROUP.get(name, -1))
        subject = idea.subject if first else ""
        role = subject or lang.roles[0 if first else roles[n % len(roles)]][gender]
        people.append(
            Character(name=name, role=role, visual_identity=_look(r, lang, gender, subject))
        )
    return people


def _told_names(call: ParsedCall, idea: Idea) -> list[str]:
    """Names the call's summaries and beats mention, in the order the story met them."""
    ctx = call.context
    texts = [s for _, s in ctx.previous] + [s for _, s in ctx.following]
    texts += [b for b in (ctx.previous_beat, ctx.beat, ctx.next_beat) if b]
    names = dict.fromkeys(m for text in texts for m in _NAMES.findall(text))
    if idea.name and any(idea.name in text for text in texts):
        names = {idea.name: None, **names}
    return list(names)


def cast_of(call: ParsedCall, lang: Lang, idea: Idea, r: random.Random) -> Cast:
    """The bible's people; else those the summaries name (plus one invented companion for
    a lone lead); else a cast invented for this call."""
    bible = call.context.bible
    if bible is not None and bible.characters:
        people = bible.characters
        subject = next((c.name for c in people if idea.subject and idea.subject in c.role), "")
        return Cast(
            tuple(c.name for c in people),
            {c.name: c.visual_identity for c in people},
            {c.name: c.role for c in people},
            subject,
        )
    told = _told_names(call, idea)
    if not told:
        people = invent(r, lang, idea, r.randint(2, 4), set(), lead=True)
        subject = people[0].name if idea.subject or idea.name else ""
        return Cast(
            tuple(c.name for c in people),
            {c.name: c.visual_identity for c in people},
            {c.name: c.role for c in people},
            subject,
        )
    texts = " ".join(s for _, s in (*call.context.previous, *call.context.following)).lower()
    lead = idea.name if idea.name in told else ""
    if idea.the_subject:
        lead = next((n for n in told if called(lang, idea, n).lower() in texts), lead)
    lead = lead or told[0]
    names = [lead, *(n for n in told if n != lead)]
    looks = {
        n: _look(r, lang, _GROUP.get(n, 0) % 2, idea.subject if n == lead else "") for n in names
    }
    extra = invent(r, lang, idea, max(0, 2 - len(names)), {_GROUP.get(n, -1) for n in names}, False)
    looks |= {c.name: c.visual_identity for c in extra}
    names += [c.name for c in extra]
    subject = lead if idea.subject or idea.name else ""
    return Cast(tuple(names), looks, dict.fromkeys(names, ""), subject)
