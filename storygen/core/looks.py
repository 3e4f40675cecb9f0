"""The look lock: every scene's visual prompt restates the bible look of each character in it.

A video model has no memory between clips: a look it is not told in this clip's prompt is
a look it invents. So the look is put there by construction, not trusted to the model.
Who a mention names and whether a look is restated are decided as the continuity check
decides them (``continuity.bible_characters`` and ``plain``: case, spacing and punctuation
ignored), so that a locked scene never has a ``look_missing`` finding.
"""

from __future__ import annotations

from storygen.core.continuity import bible_characters, plain
from storygen.core.models import Bible, Scene, SceneDraft


def present(draft: SceneDraft) -> list[str]:
    """Who is in the scene: its characters, then any other speaker, each once, as written."""
    seen: dict[str, str] = {}
    for name in [*draft.characters, *(d.speaker for d in draft.dialogues)]:
        seen.setdefault(plain(name), name)
    return list(seen.values())


def lock_looks(draft: SceneDraft, bible: Bible) -> SceneDraft:
    """``draft`` with "Name: look." appended to its visual prompt for each bible character
    present whose look the prompt does not already restate; ``draft`` itself when none."""
    said = plain(draft.visual_prompt)
    added = [
        f"{c.name}: {c.visual_identity.strip().rstrip('.')}."
        for c in bible_characters(present(draft), bible)
        if plain(c.visual_identity) not in said  # a blank look is always restated
    ]
    if not added:
        return draft
    prompt = draft.visual_prompt.strip()
    return draft.model_copy(update={"visual_prompt": " ".join([prompt, *added]).strip()})


def scene_of(draft: SceneDraft, index: int, duration_s: float, bible: Bible | None) -> Scene:
    """A model's draft as the scene storygen keeps, live, repaired or from the Batch API:
    with a bible, its looks locked; index and duration from the engine, never the model."""
    locked = draft if bible is None else lock_looks(draft, bible)
    return Scene.from_draft(locked, index, duration_s)
