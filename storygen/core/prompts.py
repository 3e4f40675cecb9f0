"""All prompt text in one place, so every backend asks the same question."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from storygen.core.models import Outline, SceneDraft, ScriptRequest
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


def outline_prompt(request: ScriptRequest, total: int) -> str:
    return "\n".join(
        [
            *_request_lines(request),
            f"Plan a video of {total} scenes of about {request.seconds_per_scene:g} s each.",
            "Give a title, a one-sentence logline, a character bible (name, role and a "
            "visual identity that must stay the same in every clip), and exactly "
            f"{total} beats: one sentence per scene, in order, forming one arc.",
        ]
    )


def _outline_lines(outline: Outline) -> list[str]:
    cast = "; ".join(f"{c.name} ({c.role}): {c.visual_identity}" for c in outline.characters)
    return [f"Story: {outline.title}. {outline.logline}", f"Characters: {cast}"]


def scene_prompt(task: SceneTask) -> str:
    """Request plus bounded context: the outline and at most K previous summaries."""
    ctx = task.context
    lines = _request_lines(task.request)
    if ctx.outline is not None:
        lines += _outline_lines(ctx.outline)
    if ctx.previous:
        lines.append("Story so far (latest scenes):")
        lines += [f"  Scene {i}: {_one_line(summary)}" for i, summary in ctx.previous]
    if ctx.previous_beat:
        lines.append(f"Previous scene's beat: {_one_line(ctx.previous_beat)}")
    if ctx.beat:
        lines.append(f"This scene's beat: {_one_line(ctx.beat)}")
    if ctx.next_beat:
        lines.append(f"Next scene's beat: {_one_line(ctx.next_beat)}")
    lines.append(
        f"Write scene {task.index} of {task.total}, a clip of {task.duration_s:g} s: title, "
        "visual_prompt (what the video model renders), narration, characters, location, "
        "dialogues (speaker, line), camera, and a one-line summary."
    )
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """About four characters a token: good enough for budgets and simulated usage."""
    return max(1, (len(text) + 3) // 4)


Kind = Literal["outline", "scene"]


@cache
def schema_for(kind: Kind) -> dict[str, Any]:
    """The JSON schema a model must answer with: creative fields only (cached: it is slow)."""
    return (Outline if kind == "outline" else SceneDraft).model_json_schema()


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
    """What a prompt asks for, read back by the OpenAI-compatible simulator."""

    kind: Kind
    request: ScriptRequest
    total: int
    index: int = 0
    duration_s: float = 0.0
    context: SceneContext = field(default_factory=SceneContext)


_LINE = re.compile(r"^(Idea|Style|Language of all text): (.*)$")
_PLAN = re.compile(r"^Plan a video of (\d+) scenes of about ([\d.]+) s each\.")
_WRITE = re.compile(r"^Write scene (\d+) of (\d+), a clip of ([\d.]+) s:")
_PREV = re.compile(r"^  Scene (\d+): (.*)$")
_BEATS = {
    "Previous scene's beat: ": "previous_beat",
    "This scene's beat: ": "beat",
    "Next scene's beat: ": "next_beat",
}


def parse_prompt(text: str, seed: int = 0) -> ParsedCall | None:
    """The inverse of outline_prompt / scene_prompt; None for any other text."""
    fields: dict[str, str] = {}
    previous: list[tuple[int, str]] = []
    beats: dict[str, str] = {}
    plan = write = None
    for line in text.splitlines():
        if m := _LINE.match(line):
            fields[m.group(1)] = m.group(2)
        elif m := _PREV.match(line):
            previous.append((int(m.group(1)), m.group(2)))
        elif m := _PLAN.match(line):
            plan = m
        elif m := _WRITE.match(line):
            write = m
        else:
            for prefix, name in _BEATS.items():
                if line.startswith(prefix):
                    beats[name] = line[len(prefix) :]
    if "Idea" not in fields or not (plan or write):
        return None
    request = ScriptRequest.model_construct(
        idea=fields["Idea"],
        style=fields.get("Style", "cinematic"),
        language=fields.get("Language of all text", "en"),
        duration_s=8.0,
        seconds_per_scene=float(plan.group(2)) if plan else 8.0,
        strategy="batched",
        concurrency=1,
        lag_allowance=None,
        context_scenes=len(previous),
        seed=seed,
    )
    if plan:
        return ParsedCall("outline", request, int(plan.group(1)))
    assert write is not None
    context = SceneContext(
        previous=tuple(previous),
        beat=beats.get("beat"),
        previous_beat=beats.get("previous_beat"),
        next_beat=beats.get("next_beat"),
    )
    return ParsedCall(
        "scene", request, int(write.group(2)), int(write.group(1)), float(write.group(3)), context
    )
