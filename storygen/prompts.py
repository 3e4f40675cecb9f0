"""All prompt text in one place, so every backend asks the same question."""

from __future__ import annotations

from storygen.backends.base import SceneTask
from storygen.models import Outline, ScriptRequest

SYSTEM = (
    "You are a screenwriter for AI-generated video. A video is cut into clips of a few "
    "seconds; each clip is one scene rendered by a text-to-video model. Write vivid, "
    "concrete, filmable scenes. Keep every character's name and look exactly as "
    "established. Answer in the language requested, with JSON only."
)


def _request_lines(request: ScriptRequest) -> list[str]:
    return [
        f"Idea: {request.idea}",
        f"Style: {request.style}",
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
        lines += [f"  Scene {i}: {summary}" for i, summary in ctx.previous]
    if ctx.previous_beat:
        lines.append(f"Previous scene's beat: {ctx.previous_beat}")
    if ctx.beat:
        lines.append(f"This scene's beat: {ctx.beat}")
    if ctx.next_beat:
        lines.append(f"Next scene's beat: {ctx.next_beat}")
    lines.append(
        f"Write scene {task.index} of {task.total}, a clip of {task.duration_s:g} s: title, "
        "visual_prompt (what the video model renders), narration, characters, location, "
        "dialogues (speaker, line), camera, and a one-line summary."
    )
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """About four characters a token: good enough for budgets and simulated usage."""
    return max(1, (len(text) + 3) // 4)
