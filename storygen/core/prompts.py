"""All prompt text in one place, so every backend asks the same question."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from storygen.core.models import Bible, Character, Outline, SceneDraft, ScriptRequest
from storygen.core.narration import counts_characters, word_budget
from storygen.core.tasks import SceneContext, SceneTask

SYSTEM = (
    "You are a screenwriter for AI-generated video. A video is cut into clips of a few "
    "seconds; each clip is one scene rendered by a text-to-video model. Write vivid, "
    "concrete, filmable scenes. Keep every character's name and look exactly as "
    "established. Answer in the language requested, with JSON only."
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _request_lines(request: ScriptRequest) -> list[str]:
    return [
        f"Idea: {_one_line(request.idea)}",
        f"Style: {_one_line(request.style)}",
        f"Language of all text: {request.language}",
    ]


# A bible quoted in a scene prompt is bounded, so that a long cast cannot crowd out the
# rest of the prompt: at most this many characters, and this much text (see bible_lines).
BIBLE_CHARACTERS = 8
BIBLE_TEXT = 600
_CAST = (
    f"a cast of at most {BIBLE_CHARACTERS} characters (name, role, and a visual identity that "
    "must stay the same in every clip, in one short phrase), the setting in one sentence, and "
    "at most 5 key objects"
)


def outline_prompt(request: ScriptRequest, total: int) -> str:
    return "\n".join(
        [
            *_request_lines(request),
            f"Plan a video of {total} scenes of about {request.seconds_per_scene:g} s each.",
            f"Give a title, a one-sentence logline, {_CAST}, and exactly "
            f"{total} beats: one sentence per scene, in order, forming one arc.",
        ]
    )


def bible_prompt(request: ScriptRequest) -> str:
    """The bible call: one short call before any scene, so parallel scenes share one cast."""
    return "\n".join(
        [
            *_request_lines(request),
            f"Write the story bible of a video of {request.scene_count} scenes of about "
            f"{request.seconds_per_scene:g} s each, before any scene is written: {_CAST}.",
        ]
    )


def _clip(text: str, most: int) -> str:
    """``text`` on one line, cut at a word to at most ``most`` characters."""
    text = _one_line(text)
    if len(text) <= most:
        return text
    return text[: most - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def bible_lines(bible: Bible) -> list[str]:
    """The bible as a scene prompt quotes it, bounded: the first ``BIBLE_CHARACTERS``
    characters, and at most ``BIBLE_TEXT`` characters of names, roles, looks, setting and
    objects. Characters that do not fit are left out (the check then names them), never
    the setting or the objects, which are cut short instead."""
    setting = _clip(bible.setting, 100)
    objects = _clip(", ".join(bible.objects[:5]), 100)
    room = BIBLE_TEXT - len(setting) - len(objects)
    lines = ["Story bible (keep every name and look exactly):"]
    for c in bible.characters[:BIBLE_CHARACTERS]:
        entry = f"{_clip(c.name, 40)} ({_clip(c.role, 40)}): {_clip(c.visual_identity, 120)}"
        if len(entry) > room:
            break
        room -= len(entry)
        lines.append(f"  Character: {entry}")
    if setting:
        lines.append(f"  Setting: {setting}")
    if objects:
        lines.append(f"  Key objects: {objects}")
    return lines


def narration_line(seconds: float, language: str) -> str:
    """The narration's budget for a clip, in words (characters for Chinese and Japanese)."""
    unit = "characters" if counts_characters(language) else "words"
    return f"Narration: at most {word_budget(seconds, language)} {unit} (spoken in {seconds:g} s)."


# A pipelined scene's summary, once later scenes were told it: a retry or a backup of the
# scene is told it in these words and must keep it (parse_prompt reads it back).
PINNED = "This scene's summary, already told to later scenes (keep it word for word): "
# A person's note on a scene written again (runner.edits); parse_prompt reads it back.
NOTE = "Editor's note for this scene: "


def scene_prompt(task: SceneTask) -> str:
    """Request plus bounded context: the bible (an outline run's is its outline's), the
    outline, at most K previous summaries, and the narration's budget."""
    ctx = task.context
    lines = _request_lines(task.request)
    if ctx.outline is not None:
        lines.append(f"Story: {_one_line(ctx.outline.title)}. {_one_line(ctx.outline.logline)}")
    bible = ctx.bible or (ctx.outline.bible if ctx.outline is not None else None)
    if bible is not None:
        lines += bible_lines(bible)
    if ctx.previous:
        lines.append("Story so far (latest scenes):")
        lines += [f"  Scene {i}: {_one_line(summary)}" for i, summary in ctx.previous]
    if ctx.following:
        lines.append("Story after this scene:")
        lines += [f"  Scene {i}: {_one_line(summary)}" for i, summary in ctx.following]
    if ctx.previous_beat:
        lines.append(f"Previous scene's beat: {_one_line(ctx.previous_beat)}")
    if ctx.beat:
        lines.append(f"This scene's beat: {_one_line(ctx.beat)}")
    if ctx.next_beat:
        lines.append(f"Next scene's beat: {_one_line(ctx.next_beat)}")
    if ctx.pinned_summary:
        lines.append(f"{PINNED}{_one_line(ctx.pinned_summary)}")
    if ctx.note:
        lines.append(f"{NOTE}{_one_line(ctx.note)}")
    lines.append(
        f"Write scene {task.index} of {task.total}, a clip of {task.duration_s:g} s: title, "
        "visual_prompt (what the video model renders), narration, characters, location, "
        "dialogues (speaker, line), camera, and a one-line summary."
    )
    lines.append(narration_line(task.duration_s, task.request.language))
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """About four characters a token: good enough for budgets and simulated usage."""
    return max(1, (len(text) + 3) // 4)


Kind = Literal["outline", "scene", "bible"]
_ANSWERS: dict[str, type[BaseModel]] = {"outline": Outline, "scene": SceneDraft, "bible": Bible}


@cache
def schema_for(kind: Kind) -> dict[str, Any]:
    """The JSON schema a model must answer with: creative fields only (cached: it is slow).

    A model reads the schema as part of its prompt: every field's description is written
    as an instruction, and the classes' docstrings, written for developers, are left out
    (a small model once titled its scenes after one)."""
    schema = _ANSWERS[kind].model_json_schema()
    for model in (schema, *schema.get("$defs", {}).values()):
        model.pop("description", None)  # a class's docstring; fields keep theirs
    return schema


@cache
def json_instruction(kind: Kind) -> str:
    """Said in every mode, so servers without structured output still get the shape."""
    schema = json.dumps(schema_for(kind), separators=(",", ":"))
    return f"Answer with one JSON object only, no prose, matching this JSON schema: {schema}"


# How a backend says the token limit stopped an answer; the retry's feedback starts with
# it, so the backend knows to allow more and the model is asked to be shorter.
CUT_OFF = "the answer was cut off at max_tokens="


def repair_request(feedback: str) -> str:
    if feedback.startswith(CUT_OFF):
        return (
            "Your previous answer was cut off before its JSON was complete. Answer again, "
            "more concisely, with one valid JSON object only, matching the schema."
        )
    return (
        f"Your previous answer was rejected: {feedback}. "
        "Answer again with one valid JSON object only, matching the schema."
    )


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> Any:
    """Strip <think> blocks and code fences, then parse; ValueError says what was wrong.

    Lenient about control characters: small models and grammar-constrained servers put
    raw newlines and tabs inside JSON strings, which strict JSON forbids but which mean
    exactly what they look like.
    """
    cleaned = _THINK.sub("", text).strip()
    cleaned = _FENCE.sub("", cleaned).strip()
    if not cleaned.startswith("{"):
        start, end = cleaned.find("{"), cleaned.rfind("}")
        if start == -1 or end <= start:
            raise ValueError("the answer contained no JSON object")
        cleaned = cleaned[start : end + 1]
    try:
        return json.loads(cleaned, strict=False)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer was not valid JSON ({exc.msg} at char {exc.pos})") from None


@dataclass(frozen=True)
class ParsedCall:
    """What a prompt asks for and tells, read back from its text alone: the simulators
    (in-process and serve-sim) answer from this, so they know only what a model is told."""

    kind: Kind
    request: ScriptRequest  # idea, style, language and seed; the rest is not in a prompt
    total: int  # scenes of the video
    index: int = 0
    duration_s: float = 0.0
    context: SceneContext = field(default_factory=SceneContext)  # the bible, summaries, beats
    budget: int | None = None  # the narration's stated budget (words, or zh/ja characters)


_LINE = re.compile(r"^(Idea|Style|Language of all text): (.*)$")
_PLAN = re.compile(r"^Plan a video of (\d+) scenes of about ([\d.]+) s each\.")
_BIBLE = re.compile(r"^Write the story bible of a video of (\d+) scenes of about ([\d.]+) s each")
_WRITE = re.compile(r"^Write scene (\d+) of (\d+), a clip of ([\d.]+) s:")
_SUMMARY = re.compile(r"^  Scene (\d+): (.*)$")
_CHARACTER = re.compile(r"^  Character: (.*?) \((.*?)\): (.*)$")
_BUDGET = re.compile(r"^Narration: at most (\d+) (?:words|characters)\b")
_ASKS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("scene", _WRITE),
    ("outline", _PLAN),
    ("bible", _BIBLE),
)
_BEATS = {
    "Previous scene's beat: ": "previous_beat",
    "This scene's beat: ": "beat",
    "Next scene's beat: ": "next_beat",
}


@dataclass
class _Reading:
    """What the lines of one prompt said, gathered in one pass."""

    fields: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    beats: dict[str, str] = field(default_factory=dict)
    characters: list[Character] = field(default_factory=list)
    bible: dict[str, str] = field(default_factory=dict)  # setting, objects
    section: str = ""  # the heading the indented lines belong to
    ask: tuple[Kind, re.Match[str]] | None = None  # what the call asks for
    budget: int | None = None
    pinned: str | None = None
    note: str | None = None

    def read(self, line: str) -> None:
        if line.startswith("  "):
            self._indented(line)
            return
        self.section = line
        if line.startswith(PINNED):
            self.pinned = line[len(PINNED) :]
        elif line.startswith(NOTE):
            self.note = line[len(NOTE) :]
        elif m := _LINE.match(line):
            self.fields[m.group(1)] = m.group(2)
        elif m := _BUDGET.match(line):
            self.budget = int(m.group(1))
        elif asked := next(((k, m) for k, r in _ASKS if (m := r.match(line))), None):
            self.ask = self.ask or asked
        else:
            for prefix, name in _BEATS.items():
                if line.startswith(prefix):
                    self.beats[name] = line[len(prefix) :]

    def _indented(self, line: str) -> None:
        if self.section.startswith("Story bible"):
            if m := _CHARACTER.match(line):
                self.characters.append(Character(name=m[1], role=m[2], visual_identity=m[3]))
            elif line.startswith("  Setting: "):
                self.bible["setting"] = line[len("  Setting: ") :]
            elif line.startswith("  Key objects: "):
                self.bible["objects"] = line[len("  Key objects: ") :]
        elif m := _SUMMARY.match(line):
            side = "following" if self.section.startswith("Story after") else "previous"
            self.summaries.setdefault(side, []).append((int(m[1]), m[2]))

    def context(self) -> SceneContext:
        told = self.characters or self.bible
        objects = [o.strip() for o in self.bible.get("objects", "").split(", ") if o.strip()]
        bible = Bible(
            characters=self.characters, setting=self.bible.get("setting", ""), objects=objects
        )
        return SceneContext(
            previous=tuple(self.summaries.get("previous", ())),
            following=tuple(self.summaries.get("following", ())),
            bible=bible if told else None,
            beat=self.beats.get("beat"),
            previous_beat=self.beats.get("previous_beat"),
            next_beat=self.beats.get("next_beat"),
            pinned_summary=self.pinned,
            note=self.note,
        )


def parse_prompt(text: str, seed: int = 0) -> ParsedCall | None:
    """The inverse of outline_prompt / bible_prompt / scene_prompt: what the call asks for
    and every fact its text states; None for any other text."""
    reading = _Reading()
    for line in text.splitlines():
        reading.read(line)
    if "Idea" not in reading.fields or reading.ask is None:
        return None
    kind, m = reading.ask
    total = int(m[2] if kind == "scene" else m[1])
    per_scene = float(m[2]) if kind != "scene" else 8.0
    request = ScriptRequest.model_construct(
        idea=reading.fields["Idea"],
        style=reading.fields.get("Style", "cinematic"),
        language=reading.fields.get("Language of all text", "en"),
        duration_s=total * per_scene if kind == "bible" else 8.0,
        seconds_per_scene=per_scene,
        strategy="batched",
        concurrency=1,
        lag_allowance=None,
        context_scenes=len(reading.summaries.get("previous", ())),
        seed=seed,
    )
    if kind != "scene":
        return ParsedCall(kind, request, total)
    return ParsedCall(
        "scene", request, total, int(m[1]), float(m[3]), reading.context(), reading.budget
    )
