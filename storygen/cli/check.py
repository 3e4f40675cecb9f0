"""`check`: the continuity findings of a finished run, an unfinished one, or an exported script."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from storygen.cli.flags import Usage
from storygen.core import export
from storygen.core.continuity import ScriptLike, check, counts, summary_line
from storygen.core.models import Bible, Outline, Scene, ScriptRequest
from storygen.store import RunStore

_EXPECTED = "expected a run directory or a script exported as JSON"


@dataclass(frozen=True)
class _Unfinished:
    """The scenes an unfinished run has checkpointed, with what they were told."""

    request: ScriptRequest
    scenes: Sequence[Scene]
    bible: Bible | None
    outline: Outline | None


def _from_run(path: Path) -> ScriptLike:
    """A run's script.json when it finished; otherwise its checkpointed scenes."""
    if (path / "script.json").exists():
        return _from_file(path / "script.json")
    if not (path / "request.json").exists():
        raise Usage(f"{path} holds neither script.json nor request.json: {_EXPECTED}")
    run = RunStore().open(path)
    try:
        outline = run.load_outline()
        bible = run.load_bible() or (outline.bible if outline is not None else None)
        scenes = [scene for _, (scene, _) in sorted(run.load_checkpoint().items())]
        return _Unfinished(run.request(), scenes, bible, outline)
    except (ValidationError, ValueError) as exc:
        raise Usage(f"{path} is not a readable run ({_first_line(exc)}): {_EXPECTED}") from None


def _from_file(path: Path) -> ScriptLike:
    try:
        return export.from_json(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise Usage(f"{path} is not text: {_EXPECTED}") from None
    except ValidationError as exc:
        raise Usage(f"{path} is not a storygen script ({_first_line(exc)}): {_EXPECTED}") from None


def _first_line(exc: Exception) -> str:
    """pydantic's report is many lines; its first error is enough to see what is wrong."""
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def load(path: Path) -> ScriptLike:
    """What ``check`` reads at ``path``; Usage (exit 2) when it is not a script."""
    if not path.exists():
        raise Usage(f"no such file or directory: {path}: {_EXPECTED}")
    return _from_run(path) if path.is_dir() else _from_file(path)


def cmd_check(args: argparse.Namespace) -> int:
    if args.rate is not None and not args.rate > 0:
        raise Usage(f"--rate takes words per second above 0 (got {args.rate:g})")
    findings = check(load(args.path), rate=args.rate)
    if args.json:
        found = [f.model_dump() for f in findings]
        print(json.dumps({"findings": found, "counts": counts(findings)}, ensure_ascii=False))
    else:
        for f in findings:
            print(f"scene {f.scene}: {f.kind}: {f.detail} [{f.evidence}]")
        print(summary_line(findings))
    return 1 if args.strict and findings else 0
