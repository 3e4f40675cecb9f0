"""A shot list for video models: one clip a row, as CSV (a spreadsheet) or JSONL (a batch
script that sends each clip's prompt to a video model).

A video model has no memory between clips, so the visual prompt carries the bible looks of
everyone in it (``core.looks``), even when a person edited the prompt after the run locked
them. The clip starts where the previous one ends: scene k at the sum of the earlier
durations, as in the subtitles.
"""

from __future__ import annotations

import json
from typing import Any

from storygen.core.csv_safety import csv_text
from storygen.core.looks import lock_looks
from storygen.core.models import Bible, Script
from storygen.core.subtitles import clip_starts

SHOT_COLUMNS = ("index", "start_s", "duration_s", "visual_prompt", "camera", "narration")


def bible_of(script: Script) -> Bible | None:
    """The bible every scene was told: the bible call's, or an outline run's."""
    if script.bible is not None:
        return script.bible
    return script.outline.bible if script.outline is not None else None


def shots(script: Script) -> list[dict[str, Any]]:
    """One dict a clip, in SHOT_COLUMNS order, looks locked when there is a bible."""
    bible = bible_of(script)
    rows = []
    for scene, start in clip_starts(script.scenes):
        locked = scene if bible is None else lock_looks(scene, bible)
        rows.append(
            {
                "index": scene.index,
                "start_s": round(start, 3),
                "duration_s": scene.duration_s,
                "visual_prompt": locked.visual_prompt,
                "camera": scene.camera,
                "narration": scene.narration,
            }
        )
    return rows


def to_shots_csv(script: Script) -> str:
    """UTF-8 with a BOM and CRLF rows, like the script CSV; text cells neutralised."""
    return csv_text(SHOT_COLUMNS, (row.values() for row in shots(script)))


def to_shots_jsonl(script: Script) -> str:
    """One JSON object a line (UTF-8, not escaped to ASCII), a newline after each."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in shots(script))
