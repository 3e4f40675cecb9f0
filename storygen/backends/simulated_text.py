"""Text of the simulated LLM: a small seeded template grammar that knows only its prompt.

Why: the default backend must write scenes that read plausibly and vary, yet cost
microseconds and repeat exactly for a seed. And it must tell the truth about information:
every fact it writes comes from its prompt, as ``core.prompts.parse_prompt`` reads it back
(the idea, the bible, the summaries and beats, the narration budget), or from its own draw
for this call, keyed by (seed, idea, kind, scene, attempt). It never reads hidden state (a
seed's fixed cast, the outline beyond what the prompt quotes), so strategies that tell a
scene less get scenes that agree less, as they would with a real model.
"""

from __future__ import annotations

import bisect
import math
import random
import re

from storygen.backends.simulated_cast import Cast, called, cast_of, invent
from storygen.backends.simulated_idea import Idea, read_idea
from storygen.backends.simulated_lang import Lang, cap, find_word, language, rng
from storygen.core.models import Bible, Character, Dialogue, Outline, SceneDraft
from storygen.core.narration import spoken_units, word_budget
from storygen.core.prompts import ParsedCall

_ACT_EDGES = (0.1, 0.42, 0.58, 0.8, 0.94)  # setup|rising|midpoint|crisis|climax|resolution
_TALK = (0, 1, 1, 2, 2, 3)  # how many lines of dialogue a scene draws
LONG_SHARE = 0.25  # told no budget, this share of narrations runs 1.5-2.5x a clip's worth
ACT_SENTENCE = 0.4  # how often narration tells the act's stock sentence, not the event
SUBJECT_IN_SUMMARY = 0.4  # how often a summary says who the idea's subject is ("Mara the fox")
_Places = tuple[tuple[str, str], ...]


def _act(i: int, total: int) -> int:
    """Act of the 0-based position i: 0 setup .. 5 resolution; the first sets up, the last ends."""
    return bisect.bisect_right(_ACT_EDGES, i / (total - 1) if total > 1 else 0.0)


def _draw(call: ParsedCall, attempt: int) -> random.Random:
    """This call's own draw: a retry draws afresh, a hedge's backup writes the same."""
    req = call.request
    return rng(f"{call.kind}|{req.seed}|{req.idea}|{call.index}|{attempt}")


def _places(lang: Lang, idea: Idea) -> _Places:
    """Where scenes may happen: the idea's own place first, then the grammar's."""
    return ((idea.place, idea.in_place), *lang.locs) if idea.place else lang.locs


def _find_place(text: str, places: _Places) -> int:
    low = text.lower()
    return next((i for i, (a, b) in enumerate(places) if b.lower() in low or a.lower() in low), -1)


def _joined(lang: Lang, names: list[str]) -> str:
    return (
        names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {lang.w['and'][0]} {names[-1]}"
    )


def _with(lang: Lang, names: list[str]) -> str:
    return lang.w["with"][0].format(other=_joined(lang, names)) if names else ""


def _world(r: random.Random, lang: Lang, idea: Idea) -> tuple[list[Character], str, list[str]]:
    """A cast, a setting and key objects invented from the idea: a bible's or an outline's."""
    people = invent(r, lang, idea, r.randint(2, 4), set(), lead=True)
    places = _places(lang, idea)
    home = 0 if idea.place else r.randrange(len(places))
    setting = lang.w["setting"][0].format(in_loc=places[home][1], era=r.choice(lang.w["era"]))
    own = [idea.thing] if idea.thing else []
    objects = own + r.sample([o for o in lang.w["obj"] if o != idea.thing], r.randint(2, 3))
    return people, cap(setting), objects


def write_bible(call: ParsedCall, attempt: int) -> Bible:
    """The bible call: the cast, setting and key objects, invented from the idea."""
    lang = language(call.request.language)
    people, setting, objects = _world(
        _draw(call, attempt), lang, read_idea(call.request.idea, lang.code)
    )
    return Bible(characters=people, setting=setting, objects=objects)


def write_outline(call: ParsedCall, attempt: int) -> Outline:
    """Plan one beat per scene along a six-act arc, with the bible it invents for them."""
    req, lang = call.request, language(call.request.language)
    w, idea, r = lang.w, read_idea(req.idea, lang.code), _draw(call, attempt)
    people, setting, objects = _world(r, lang, idea)
    names, places = [c.name for c in people], _places(lang, idea)
    beats: list[str] = []
    loc = home = _find_place(setting, places)
    for i in range(call.total):
        act = _act(i, call.total)
        lead = names[0] if act in (0, 4, 5) and r.random() < 0.7 else r.choice(names)
        if i and r.random() > 0.35:  # otherwise stay: consecutive beats often share a place
            loc = home if r.random() < 0.3 else r.randrange(len(places))
        obj = objects[0] if r.random() < 0.75 else r.choice(objects)
        subject = lead == names[0] and idea.the_subject and r.random() < SUBJECT_IN_SUMMARY
        who = called(lang, idea, lead) if subject else lead
        verb, when, in_loc = r.choice(lang.acts["verbs"][act]), r.choice(w["when"]), places[loc][1]
        others = [r.choice([n for n in names if n != lead])] if r.random() < 0.5 else []
        beat = r.choice(w["summary"]).format(
            who=who,
            verb=verb,
            obj=obj,
            in_loc=in_loc,
            In_loc=cap(in_loc),
            when=when,
            When=cap(when),
            with_=_with(lang, others),
        )
        beats.append(cap(beat) + ".")
    words = req.idea.split()
    text, title = " ".join(words), " ".join(words[:6]) + ("…" if len(words) > 8 else "")
    text = text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + "…"
    goal = r.choice(w["goals"]).format(obj=objects[0])
    return Outline(
        title=cap(title if len(words) > 8 else text).rstrip(".,;:!?"),
        logline=w["logline"][0].format(idea=cap(text.rstrip(" .")), name=names[0], goal=goal),
        characters=people,
        beats=beats,
        setting=setting,
        objects=objects,
    )


# The end of a first sentence: a stop after a word of 4+ letters ("Dr. Voss" goes on).
_SENTENCE_END = re.compile(r"(?<=\w{4})[.!?]\s+(?=\S)")


def _first_line(text: str) -> str:
    """One clean sentence without its final period, at most 160 characters: a summary's
    shape (a prompt gives a chatty model's two-sentence beat on one line)."""
    line = _SENTENCE_END.split((text.strip().splitlines() or [""])[0].strip(), maxsplit=1)[0]
    line = line.rstrip(".")
    return line if len(line) <= 160 else line[:157] + "…"


def _cut(text: str, most: int, code: str) -> str:
    """``text`` cut to at most ``most`` spoken units, ending as a sentence: at its last
    clause that fits if that keeps half the budget, else at a word."""
    words = text.split()
    while len(words) > 1 and spoken_units(" ".join(words), code) > most:
        words.pop()
    clause = next((i for i in range(len(words), 0, -1) if words[i - 1][-1] in ",;:"), 0)
    if clause and spoken_units(" ".join(words[:clause]), code) * 2 >= most:
        words = words[:clause]
    return " ".join(words).rstrip(",;:") + ("" if words[-1][-1:] in ".!?…" else ".")


def _narration(call: ParsedCall, r: random.Random, parts: list[str], extra: list[str]) -> str:
    """``parts`` (after-clause, the act's sentence, a mood) fitted to the stated budget:
    the act's sentence always, the others if they fit. Told no budget, a model fits a
    clip's worth, except ``LONG_SHARE`` of the time, when it runs on to 1.5-2.5x."""
    code = call.request.language
    budget, after, main, mood = call.budget, *parts
    if budget is None:
        budget = word_budget(call.duration_s, code)
        if r.random() < LONG_SHARE:
            target, text = math.ceil(budget * r.uniform(1.5, 2.5)), " ".join(p for p in parts if p)
            for sentence in extra:
                if spoken_units(text, code) >= target:
                    break
                text += " " + sentence
            return text
    text = main
    if after and spoken_units(f"{after} {main}", code) <= budget:
        text = f"{after} {main}"
    if spoken_units(f"{text} {mood}", code) <= budget:
        text = f"{text} {mood}"
    return text if spoken_units(text, code) <= budget else _cut(text, budget, code)


def _objects(call: ParsedCall, lang: Lang, idea: Idea) -> list[str]:
    """Key objects the call was told of: the bible's; else the idea's and those the
    summaries mention."""
    bible = call.context.bible
    if bible is not None and bible.objects:
        return list(bible.objects)
    told = " ".join(s for _, s in call.context.previous).lower()
    seen = [o for o in lang.w["obj"] if o.lower() in told]
    return ([idea.thing] if idea.thing else []) + [o for o in seen if o != idea.thing]


def _cast_in_scene(r: random.Random, cast: Cast, beat: str) -> list[str]:
    """Who is in the scene: the people its beat names, else a lead and 0-2 others."""
    names = cast.names
    in_beat = [n for at, n in sorted((find_word(beat, n), n) for n in names) if at >= 0]
    if in_beat:
        return in_beat[:3]
    lead = names[0] if r.random() < 0.45 else r.choice(names)
    pool = [n for n in names if n != lead]
    r.shuffle(pool)
    return [lead, *pool[: max(0, r.choice((1, 2, 2, 3)) - 1)]]


def _where(
    call: ParsedCall, r: random.Random, places: _Places, idea: Idea, beat: str, prev: str
) -> tuple[str, str]:
    """The beat's place; else often where the last scene was; else the story's home (the
    bible's setting, or the idea's place); else anywhere."""
    bible = call.context.bible
    home = _find_place(bible.setting, places) if bible else (0 if idea.place else -1)
    loc = _find_place(beat, places) if beat else -1
    if loc < 0 and prev and r.random() < 0.6:  # continuity: stay where the last scene was
        loc = _find_place(prev, places)
    if loc < 0 and home >= 0 and r.random() < 0.35:
        loc = home
    return places[loc if loc >= 0 else r.randrange(len(places))]


def _what(call: ParsedCall, r: random.Random, lang: Lang, idea: Idea, beat: str) -> str:
    """The beat's object; else mostly a key object the call was told of (or invents now)."""
    w, known = lang.w, _objects(call, lang, idea)
    obj = next((o for o in (*known, *w["obj"]) if beat and o.lower() in beat.lower()), "")
    if obj:
        return obj
    key = known[0] if known and r.random() < 0.7 else r.choice(known or w["obj"])
    return key if r.random() < 0.75 else r.choice(w["obj"])


def _narrate(
    call: ParsedCall,
    r: random.Random,
    lang: Lang,
    act: int,
    prev: str,
    cast: Cast,
    slots: dict[str, str],
    event: dict[str, str],
) -> str:
    """Where the story stands ("After ..."), then the act's stock sentence or what happens
    in the summary's words, then a mood; fitted to the budget by ``_narration``."""
    w, narr = lang.w, lang.acts["narr"]
    after = ""
    if prev:
        shown = prev if prev.split(" ", 1)[0] in cast.names else prev[:1].lower() + prev[1:]
        after = r.choice(w["after"]).format(prev=shown)
    extra = [cap(t.format(**slots)) for act_narr in narr for t in act_narr] + list(w["mood"])
    r.shuffle(extra)
    arc = r.choice(narr[act]).format(**slots)
    told = r.random() < ACT_SENTENCE  # the arc's sentence, or what happens, in its own words
    main = arc if told else r.choice(w["summary"]).format(**{**slots, **event, "with_": ""}) + "."
    return _narration(call, r, [after, cap(main), r.choice(w["mood"])], extra)


def write_scene(call: ParsedCall, attempt: int) -> SceneDraft:
    """Write one scene from its prompt: it follows the beat if any, keeps the people and
    objects it was told of, picks up where the last summary left off, and fits its budget."""
    req, ctx = call.request, call.context
    lang = language(req.language)
    w, idea, r = lang.w, read_idea(req.idea, lang.code), _draw(call, attempt)
    cast = cast_of(call, lang, idea, r)
    beat = _first_line(ctx.beat) if ctx.beat else ""
    prev = _first_line(ctx.previous[-1][1]) if ctx.previous else ""
    act = _act(call.index - 1, call.total)
    chars = _cast_in_scene(r, cast, beat)
    lead = chars[0]
    other = chars[1] if len(chars) > 1 else w["stranger"][0]
    loc_name, in_loc = _where(call, r, _places(lang, idea), idea, beat, prev)
    obj = _what(call, r, lang, idea, beat)
    camera = w["cam"][0] if call.index == 1 else r.choice(w["cam"])  # first: establish
    if call.index == call.total > 1:
        camera = w["cam"][1]  # last: pull back and let go
    verb = r.choice(lang.acts["verbs"][act])
    who = called(lang, idea, lead) if lead == cast.subject and idea.the_subject else lead
    slots = {"name": who, "other": other, "obj": obj, "in_loc": in_loc, "In_loc": cap(in_loc)}
    when = r.choice(w["when"])
    event = {"verb": verb, "obj": obj, "in_loc": in_loc, "In_loc": cap(in_loc), "when": when}
    event |= {"When": cap(when)}
    shape = r.choice(w["summary"])
    narration = _narrate(call, r, lang, act, prev, cast, {**slots, "who": who}, event)
    if beat:
        summary = beat + _with(lang, [c for c in chars if find_word(beat, c) < 0])
    else:
        named = who if r.random() < SUBJECT_IN_SUMMARY else lead
        summary = shape.format(who=named, with_=_with(lang, chars[1:]), **event)
    n = len(chars)
    lines = r.sample(w["lines"] if n > 1 else w["solo"], min(n, r.choice(_TALK)))
    talk = [
        (chars[k % n], t.format(other=chars[(k + 1) % n], obj=obj)) for k, t in enumerate(lines)
    ]
    title = r.choice(w["titles"]).format(
        word=r.choice(lang.acts["tword"][act]), loc=loc_name, **slots
    )
    look = cast.looks.get(lead)
    visual = w["visual"][0].format(
        subject=f"{lead} ({look})" if look else lead,
        verb=verb,
        light=r.choice(w["light"]),
        style=req.style.strip() or "cinematic",
        camera=camera,
        **slots,
    )
    if ctx.note:  # a person's note on a scene written again: its words go into the clip
        visual = f"{visual} {cap(' '.join(ctx.note.split())).rstrip('.')}."
    return SceneDraft(
        title=cap(title),
        visual_prompt=visual,
        narration=narration,
        characters=chars,
        location=cap(loc_name),
        dialogues=[Dialogue(speaker=s, line=cap(x)) for s, x in talk],
        camera=camera,
        # a summary later scenes were already told is kept word for word, as asked
        summary=ctx.pinned_summary or _first_line(cap(summary)),
    )


def write_answer(call: ParsedCall, attempt: int) -> Outline | Bible | SceneDraft:
    """What the simulated LLM answers to a storygen prompt, read back by ``parse_prompt``."""
    if call.kind == "outline":
        return write_outline(call, attempt)
    if call.kind == "bible":
        return write_bible(call, attempt)
    return write_scene(call, attempt)
