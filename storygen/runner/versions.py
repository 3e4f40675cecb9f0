"""A finished run's versions: every change keeps the script as it was and says what it did.

Version 0 is the script as generated; change n makes version n. Before change n, the script
(version n-1) is kept as ``versions/{n-1:04d}.json``, so a version's file holds that very
version and the newest is script.json. history.jsonl has one line a change.

The order of a change makes a kill harmless: the version file first (the same text again is
accepted, so a retried change goes through), then the history line, then script.json and
the run's exports. Killed between the line and script.json, a run shows a change that
changed nothing, and loses no script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import ValidationError

from storygen.core import export
from storygen.core.errors import InvalidRequestError, StoreError
from storygen.core.models import Script
from storygen.store import RunDir, RunStore, atomic_write

Action = Literal["generate", "edit", "regenerate", "undo"]


@dataclass(frozen=True)
class Version:
    """One version of a run's script: how it came to be."""

    number: int  # 0: as generated
    at: str  # ISO time
    action: Action
    scenes: tuple[int, ...]  # the scenes it changed (every scene for "generate")
    note: str | None = None  # the note a regeneration was given
    restores: int | None = None  # undo: the version whose script it brought back


def open_run(run: str | Path | RunDir) -> RunDir:
    """A run by path, id (in ./runs) or RunDir; InvalidRequestError when there is none."""
    return run if isinstance(run, RunDir) else RunStore().open(run)


def finished_script(run_dir: RunDir) -> Script:
    """The run's script; InvalidRequestError, saying what to do, unless it finished."""
    status = str(run_dir.status().get("status", "unknown"))
    if status != "finished":
        raise InvalidRequestError(
            f"run {run_dir.path} is not finished (status: {status}); resume it first: "
            f"python -m storygen resume {run_dir.path}",
            "run",
        )
    try:
        return Script.model_validate_json(run_dir.script_text())
    except (OSError, ValidationError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"{exc.error_count()} errors"
        raise InvalidRequestError(
            f"run {run_dir.path}: script.json is not a readable script ({reason})", "run"
        ) from None


def _version(number: int, line: Mapping[str, Any]) -> Version:
    return Version(
        number=number,
        at=str(line.get("at", "")),
        action=cast(Action, line.get("action", "edit")),
        scenes=tuple(int(k) for k in line.get("scenes", ())),
        note=line.get("note"),
        restores=line.get("restores"),
    )


def versions(run_dir: RunDir, script: Script) -> list[Version]:
    """Version 0 (as generated), then one a change, oldest first."""
    created = str(run_dir.status().get("created", ""))
    everything = tuple(s.index for s in script.scenes)
    first = Version(0, created, "generate", everything)
    return [first, *(_version(int(c["number"]), c) for c in run_dir.read_history())]


def history(run: str | Path | RunDir, scene: int | None = None) -> list[Version]:
    """The versions of a finished run's script, oldest first; with ``scene``, those that
    changed it. Reads only: no lock is needed, since every file is replaced whole."""
    run_dir = open_run(run)
    script = finished_script(run_dir)
    if scene is not None and scene not in range(1, len(script.scenes) + 1):
        raise InvalidRequestError(
            f"scene: {scene} is not a scene of this run (allowed: 1 to {len(script.scenes)})",
            "scene",
        )
    every = versions(run_dir, script)
    return every if scene is None else [v for v in every if scene in v.scenes]


def undo_target(changes: Sequence[Mapping[str, Any]]) -> int | None:
    """The version ``undo`` brings back: the one before the newest, where an undo counts as
    the version it restored, so that undo twice goes back twice. None: nothing to undo."""
    by_number = {int(c["number"]): c for c in changes}
    v = int(changes[-1]["number"]) if changes else 0
    while v in by_number and by_number[v].get("action") == "undo":
        v = int(by_number[v]["restores"])
    return v - 1 if v >= 1 else None


def export_names() -> dict[str, str]:
    """The export files a run directory may hold (``script.csv``, ``script.srt``...), by
    format; script.json is the script itself."""
    return {f: f"script{export.SUFFIX[f]}" for f in export.FORMATS if f != "json"}


def commit(
    run_dir: RunDir, script: Script, change: dict[str, Any], text: str | None = None
) -> Version:
    """Keep the script as it is, record ``change``, then write ``script`` (as ``text`` when
    given: an undo brings back the very bytes) and re-render the run's own exports."""
    text = text if text is not None else script.model_dump_json(indent=2)
    exports = {
        run_dir.path / name: export.render(script, fmt)  # rendered before anything is written
        for fmt, name in export_names().items()
        if (run_dir.path / name).exists()
    }
    changes = run_dir.read_history()
    current = int(changes[-1]["number"]) if changes else 0
    run_dir.save_version(current, run_dir.script_text())
    line = {"number": current + 1, "at": _now(), **change}
    run_dir.write_history([*changes, line])
    try:
        run_dir.save_script_text(text)
    except StoreError:
        run_dir.write_history(changes)  # taken back: the script did not change
        raise
    for path, rendered in exports.items():
        _write_export(path, rendered)
    run_dir.set_status("finished", findings=len(script.findings))
    return _version(current + 1, line)


def _write_export(path: Path, text: str) -> None:
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise StoreError("an export", path, exc) from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
