"""Scripts and runs as tables to read (not metrics): the script, a live view of it, its
continuity findings, the run store's history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

import pandas as pd

from storygen.core.continuity import Finding
from storygen.core.export import findings_of
from storygen.core.labels import config_label, labels_for
from storygen.core.models import Scene, SceneTiming, Script
from storygen.store import RunInfo

SCRIPT_COLUMNS = (
    "scene",
    "duration_s",
    "title",
    "location",
    "characters",
    "camera",
    "narration",
    "dialogues",
    "visual_prompt",
    "findings",
)
FINDING_COLUMNS = ("config", "scene", "kind", "detail", "evidence")


def _kinds_by_scene(findings: Iterable[Finding]) -> dict[int, str]:
    """Per scene, what was found: "name_variant, 2 look_missing"."""
    by_scene: dict[int, Counter[str]] = {}
    for f in findings:
        by_scene.setdefault(f.scene, Counter())[f.kind] += 1
    return {
        scene: ", ".join(kind if n == 1 else f"{n} {kind}" for kind, n in kinds.items())
        for scene, kinds in by_scene.items()
    }


def script_frame(scenes: Sequence[Scene], findings: Iterable[Finding] = ()) -> pd.DataFrame:
    """The script as a table, one row a scene, lists joined readably (as in the CSV export),
    and the continuity findings of each scene ("" for none, and while a run is going)."""
    found = _kinds_by_scene(findings)
    return pd.DataFrame(
        [
            {
                "scene": s.index,
                "duration_s": s.duration_s,
                "title": s.title,
                "location": s.location,
                "characters": ", ".join(s.characters),
                "camera": s.camera,
                "narration": s.narration,
                "dialogues": "\n".join(f"{d.speaker}: {d.line}" for d in s.dialogues),
                "visual_prompt": s.visual_prompt,
                "findings": found.get(s.index, ""),
            }
            for s in sorted(scenes, key=lambda s: s.index)
        ],
        columns=list(SCRIPT_COLUMNS),
    )


def findings_frame(scripts: Sequence[Script], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Every continuity finding of every script, one row each with the text that shows it,
    labelled by configuration (the Continuity tab, the report's appendix)."""
    labels = list(labels) if labels is not None else labels_for(scripts)
    rows = [
        {"config": label, **f.model_dump()}
        for script, label in zip(scripts, labels, strict=True)
        for f in findings_of(script)
    ]
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def latest_first(scenes: Sequence[Scene], timings: Sequence[SceneTiming]) -> pd.DataFrame:
    """The script table with the most recently finished scene on top, for a live view."""
    finished = {t.index: t.end_s for t in timings}
    table = script_frame(scenes)
    order = table["scene"].map(lambda k: finished.get(k, -1.0))
    return table.iloc[order.argsort()[::-1]].reset_index(drop=True)


def _when(created: str) -> str:
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created


def runs_frame(infos: Sequence[RunInfo]) -> pd.DataFrame:
    """The run store's history, newest first as the store lists it."""
    return pd.DataFrame(
        [
            {
                "run": i.run_id,
                "date": _when(i.created),
                "idea": i.idea if len(i.idea) <= 60 else i.idea[:59] + "…",
                "strategy": config_label(i.strategy, i.concurrency),
                "scenes": f"{i.scenes_done}/{i.scenes_total}",
                "status": i.status,
                # a failed or interrupted run shows its time until it stopped
                "wall time (s)": "—" if i.wall_time_s is None else f"{i.wall_time_s:.3f}",
            }
            for i in infos
        ],
        columns=["run", "date", "idea", "strategy", "scenes", "status", "wall time (s)"],
    )
