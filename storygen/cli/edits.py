"""`regenerate`, `edit`, `export`, `history`, `undo`: a finished run's script, changed by a
person. Bad input (a run that is missing or unfinished, a scene out of range, an empty
field) is one line and exit 2; nothing is ever half-written."""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from typing import Any

from storygen.cli.edit_flags import TEXT, flag
from storygen.cli.flags import Usage
from storygen.core.errors import InvalidRequestError
from storygen.core.models import Script
from storygen.runner.edits import edit, export_run, regenerate, undo
from storygen.runner.versions import Version, history

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@contextlib.contextmanager
def _flags() -> Iterator[None]:
    """The library names a field (``visual_prompt: must not be empty``); say the flag typed."""
    try:
        yield
    except InvalidRequestError as exc:
        message, field = str(exc), exc.field or ""
        typed = {"scenes": "--scenes", "dialogues": "--dialogue"}.get(field)
        if field in (*TEXT, "characters", "scene", "note"):
            typed = flag(field)
        if typed and message.startswith(field):
            message = typed + message[len(field) :]
        raise Usage(message) from None


def scene_list(text: str) -> list[int]:
    """ "3,7-9" -> [3, 7, 8, 9]; whether they are the run's scenes is the library's to say."""
    picks: list[int] = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise Usage(
                f"--scenes takes scene numbers and ranges such as 3,7-9 (got {part.strip()!r})"
            )
        picks += range(int(m[1]), int(m[2] or m[1]) + 1)
    return picks


def _stale_line(script: Script) -> str:
    if not script.stale:
        return "no scene is stale"
    return "stale (quoted a summary since changed): " + _scenes(script.stale)


def _scenes(indexes: Any) -> str:
    return ", ".join(str(k) for k in indexes)


def cmd_regenerate(args: argparse.Namespace) -> int:
    if args.scenes is None and not args.stale:
        raise Usage("regenerate needs --scenes (e.g. 3,7-9) or --stale")
    picks = scene_list(args.scenes) if args.scenes is not None else []
    with _flags():
        before = len(history(args.run))
        script = regenerate(args.run, scenes=picks, stale=args.stale, note=args.note)
    last = history(args.run)[-1]
    if last.number < before:
        print("nothing to regenerate: no scene is stale")
        return 0
    print(f"regenerated scenes {_scenes(last.scenes)} (version {last.number})")
    print(_stale_line(script))
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    fields: dict[str, object] = {n: getattr(args, n) for n in TEXT if getattr(args, n) is not None}
    if args.characters is not None:
        fields["characters"] = args.characters
    if args.dialogue is not None and args.no_dialogue:
        raise Usage("--dialogue and --no-dialogue cannot be given together")
    if args.dialogue is not None or args.no_dialogue:
        fields["dialogues"] = list(args.dialogue or [])
    if not fields:
        flags = ", ".join([*(flag(n) for n in TEXT), "--characters", "--dialogue"])
        raise Usage(f"edit needs at least one field to change: {flags}")
    with _flags():
        before = len(history(args.run))
        script = edit(args.run, scene=args.scene, **fields)
    last = history(args.run)[-1]
    if last.number < before:
        print(f"nothing changed: scene {args.scene} already reads so")
        return 0
    print(f"edited scene {args.scene} (version {last.number})")
    print(_stale_line(script))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _flags():
        path = export_run(args.run, args.out, args.format)
    print(f"script: {path}")
    return 0


def done(v: Version) -> str:
    """What a version did, to which scenes, and its note: "edited scene 4"."""
    what = {
        "generate": "generated",
        "edit": "edited scene",
        "regenerate": "regenerated scenes",
        "undo": f"undo: back to version {v.restores}; scenes changed",
    }[v.action]
    scenes = "" if v.action == "generate" else f" {_scenes(v.scenes) or 'none'}"
    note = f' (note: "{v.note}")' if v.note else ""
    return f"{what}{scenes}{note}"


def describe(v: Version) -> str:
    """One line a version: its number, its time, and what it did."""
    return f"{v.number:>4}  {v.at}  {done(v)}"


def cmd_history(args: argparse.Namespace) -> int:
    with _flags():
        versions = history(args.run, args.scene)
    for v in versions:
        print(describe(v))
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    with _flags():
        undone = history(args.run)[-1]
        undo(args.run)
    last = history(args.run)[-1]
    print(f"undid version {undone.number} ({done(undone)})")
    print(f"restored version {last.restores} as version {last.number}")
    return 0
