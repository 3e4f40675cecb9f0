"""A finished script, changed by a person: edit a scene, write scenes again, undo, export.

Every change holds the run's writer lock (as resume does), keeps the script as it was
(``runner.versions``), re-checks continuity, and marks stale the later scenes whose prompts
quoted a summary that changed: as generated, the ``context_scenes`` after it (none in an
outline run, whose scenes quoted beats); a scene written again quoted its neighbours too.
A scene written again leaves the stale list; an edit leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from storygen.backends.config import config_from_settings
from storygen.backends.factory import build_backend
from storygen.core import export
from storygen.core.continuity import check
from storygen.core.errors import InvalidRequestError
from storygen.core.models import Dialogue, Scene, SceneDraft, Script
from storygen.core.tasks import Backend
from storygen.runner.regeneration import attempts_so_far, rewrite, told_span
from storygen.runner.runs import run_sync
from storygen.runner.versions import (
    commit,
    finished_script,
    open_run,
    undo_target,
)
from storygen.store import RunDir

TEXT_FIELDS = ("title", "visual_prompt", "narration", "location", "camera", "summary")
EDITABLE = (*TEXT_FIELDS, "characters", "dialogues")
_TEXT = "allowed: any text that is not only spaces"
_LINE = 'allowed: "Speaker: line", or a speaker and a line, neither empty'
NOTE_MOST = 500  # characters: a note is one instruction, quoted in every picked prompt

Run = str | Path | RunDir


def edit(run: Run, *, scene: int, **fields: object) -> Script:
    """Change the text of one scene, validated as a model's answer is (an empty narration
    is refused, naming the field); the script as it was becomes a version. Fields: title,
    visual_prompt, narration, location, camera, summary (text), characters (a list of
    names, or names separated by commas), dialogues (Dialogue, dict, or "Speaker: line"
    each; text gives one a line). The same text again changes nothing and makes no version.
    """
    run_dir = open_run(run)
    with run_dir.writer():
        script = finished_script(run_dir)
        k = _scene_number(script, scene, "scene")
        old = script.scenes[k - 1]
        new = _edited(old, fields)
        if new == old:
            return script
        scenes = [new if s.index == k else s for s in script.scenes]
        changed = {k} if new.summary != old.summary else set()
        updated = _updated(run_dir, script, scenes, changed, set())
        which = sorted(f for f in fields if getattr(new, f) != getattr(old, f))
        commit(run_dir, updated, {"action": "edit", "scenes": [k], "note": None, "fields": which})
        return updated


def regenerate(
    run: Run,
    *,
    scenes: Iterable[int] = (),
    stale: bool = False,
    note: str | None = None,
    backend: Backend | None = None,
) -> Script:
    """Write ``scenes`` (and, with ``stale``, every stale scene) again, each told its
    neighbours' summaries as they are now, the story bible or outline, and ``note``; in
    parallel, at most the run's concurrency at once, with the run's retries. The run's own
    backend unless ``backend`` is given. Nothing is written unless every scene succeeds.
    ``stale`` with no stale scene returns the script unchanged."""
    run_dir = open_run(run)
    with run_dir.writer():
        script = finished_script(run_dir)
        picks = _picks(script, scenes, stale)
        note = _note(note)
        if not picks:
            return script
        changes = run_dir.read_history()
        after = attempts_so_far(script, changes)
        own = backend is None
        backend = backend or _run_backend(run_dir)
        written = run_sync(rewrite(script, picks, note, backend, after, close=own))
        by_index = {s.index: s for s in script.scenes}
        new = [written[s.index].scene if s.index in written else s for s in script.scenes]
        changed = {k for k in picks if written[k].scene.summary != by_index[k].summary}
        updated = _updated(run_dir, script, new, changed, set(picks))
        change = {
            "action": "regenerate",
            "scenes": picks,
            "note": note,
            "attempts": {str(k): w.attempts for k, w in written.items()},
            "prompt_tokens": sum(w.prompt_tokens for w in written.values()),
            "completion_tokens": sum(w.completion_tokens for w in written.values()),
        }
        commit(run_dir, updated, change)
        return updated


def undo(run: Run) -> Script:
    """Bring back the script before the newest change, byte for byte; itself recorded as
    a change. Undo again goes back one more (an undo counts as the version it restored);
    there is no redo, but every version stays in versions/. Refused at version 0."""
    run_dir = open_run(run)
    with run_dir.writer():
        script = finished_script(run_dir)
        target = undo_target(run_dir.read_history())
        if target is None:
            raise InvalidRequestError(
                f"nothing to undo: run {run_dir.path} holds the script as generated", "run"
            )
        text = run_dir.version_text(target)
        restored = Script.model_validate_json(text)
        differ = [a.index for a, b in zip(script.scenes, restored.scenes, strict=True) if a != b]
        change = {"action": "undo", "scenes": differ, "note": None, "restores": target}
        commit(run_dir, restored, change, text=text)
        return restored


def export_run(run: Run, out: str | Path, fmt: str | None = None) -> Path:
    """Write a finished run's script in any export format (from ``fmt`` or ``out``'s
    suffix), without resuming it; an unfinished run is refused, saying to resume it."""
    run_dir = open_run(run)
    with run_dir.writer():  # the script of one version, never one being replaced
        return export.write(finished_script(run_dir), out, fmt)


def _run_backend(run_dir: RunDir) -> Backend:
    """The backend the run was written with (keys from the environment), as resume."""
    try:
        return build_backend(config_from_settings(run_dir.backend_settings()))
    except (OSError, ValueError) as exc:  # missing, not JSON, or not a backend's settings
        raise InvalidRequestError(
            f"run {run_dir.path}: backend.json is not readable ({type(exc).__name__}); "
            "pass a backend to use instead",
            "backend",
        ) from None


def _scene_number(script: Script, k: object, name: str) -> int:
    total = len(script.scenes)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= total:
        raise InvalidRequestError(
            f"{name}: {k!r} is not a scene of this run (allowed: 1 to {total})", name
        )
    return k


def _picks(script: Script, scenes: Iterable[int], stale: bool) -> list[int]:
    picked = {_scene_number(script, k, "scenes") for k in scenes}
    if not picked and not stale:
        raise InvalidRequestError(
            "scenes: name the scenes to write again, or ask for the stale ones", "scenes"
        )
    return sorted(picked | set(script.stale if stale else ()))


def _note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note) > NOTE_MOST:
        raise InvalidRequestError(
            f"note: {len(note)} characters (allowed: at most {NOTE_MOST})", "note"
        )
    return " ".join(note.split())


def _updated(
    run_dir: RunDir,
    script: Script,
    scenes: list[Scene],
    changed: set[int],
    regenerated: set[int],
) -> Script:
    """``script`` with ``scenes``, its continuity checked again, and its stale list."""
    draft = script.model_copy(update={"scenes": scenes})
    stale = _stale(draft, changed, _ever_regenerated(run_dir) | regenerated)
    findings = check(draft)
    return draft.model_copy(update={"findings": findings, "stale": sorted(stale - regenerated)})


def _ever_regenerated(run_dir: RunDir) -> set[int]:
    return {
        int(k)
        for change in run_dir.read_history()
        if change.get("action") == "regenerate"
        for k in change.get("scenes", ())
    }


def _stale(script: Script, changed: set[int], regenerated: set[int]) -> set[int]:
    """The stale list, with the later scenes whose prompts quoted a summary in ``changed``."""
    as_written = 0 if script.outline is not None else script.request.context_scenes
    span = told_span(script)
    quoted = {
        i
        for j in changed
        for i in range(j + 1, len(script.scenes) + 1)
        if i - j <= as_written or (i in regenerated and i - j <= span)
    }
    return set(script.stale) | quoted


def _edited(old: Scene, fields: Mapping[str, object]) -> Scene:
    """``old`` with ``fields`` checked and applied; InvalidRequestError naming the field."""
    if not fields:
        raise InvalidRequestError(
            f"nothing to edit: give at least one of {', '.join(EDITABLE)}", "fields"
        )
    for name in fields:
        if name not in EDITABLE:
            raise InvalidRequestError(
                f"{name}: not a field of a scene one can edit (allowed: {', '.join(EDITABLE)})",
                name,
            )
    values = {name: _checked(name, value) for name, value in fields.items()}
    data = {**old.model_dump(include=set(SceneDraft.model_fields)), **values}
    try:
        draft = SceneDraft.model_validate(data)
    except ValidationError as exc:  # pragma: no cover - _checked refuses what this would
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidRequestError(f"{where}: {err['msg']}", where) from None
    return Scene.from_draft(draft, old.index, old.duration_s)


def _checked(name: str, value: object) -> object:
    if name == "characters":
        return _names(value)
    if name == "dialogues":
        return _dialogues(value)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name}: takes text ({_TEXT}; got {type(value).__name__})", name)
    if not value.strip():
        raise InvalidRequestError(f"{name}: must not be empty ({_TEXT})", name)
    return value.strip()


def _names(value: object) -> list[str]:
    names = value.split(",") if isinstance(value, str) else value
    allowed = "(allowed: a list of names, or names separated by commas)"
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise InvalidRequestError(f"characters: takes names {allowed}", "characters")
    if isinstance(value, str) and not value.strip():
        return []  # no characters: a scene may have none, as a model's may
    if any(not n.strip() for n in names):
        raise InvalidRequestError(f"characters: a name is empty {allowed}", "characters")
    return [n.strip() for n in names]


def _dialogues(value: object) -> list[Dialogue]:
    items = value.splitlines() if isinstance(value, str) else value
    if not isinstance(items, Sequence):
        raise InvalidRequestError(f"dialogues: takes a list of lines ({_LINE}, each)", "dialogues")
    return [_dialogue(i, item) for i, item in enumerate(items, 1) if _said(item)]


def _said(item: object) -> bool:
    return not isinstance(item, str) or bool(item.strip())  # blank text lines are skipped


def _dialogue(i: int, item: object) -> Dialogue:
    where = f"dialogues[{i}]"
    fields: object = item
    if isinstance(item, str):
        said, colon, line = item.partition(":")
        fields = {"speaker": said, "line": line} if colon else None
    elif isinstance(item, Dialogue):
        fields = item.model_dump()
    if not isinstance(fields, dict):
        raise InvalidRequestError(f"{where}: {item!r} is not a line ({_LINE})", "dialogues")
    speaker, text = fields.get("speaker"), fields.get("line")
    if not isinstance(speaker, str) or not isinstance(text, str):
        raise InvalidRequestError(f"{where}: needs a speaker and a line ({_LINE})", "dialogues")
    if not speaker.strip() or not text.strip():
        what = "speaker" if not speaker.strip() else "line"
        raise InvalidRequestError(f"{where}: the {what} must not be empty ({_LINE})", "dialogues")
    return Dialogue(speaker=speaker.strip(), line=text.strip())
