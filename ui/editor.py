"""A saved run's scene table, editable: Save and Undo, each message right under the table.

Save and Undo are button callbacks, so they change the run before the page is drawn again and
the page always shows the run as it is on disk. The table's key carries a generation number
that grows after every change that went through: a failed save keeps what the user typed (the
same key, so the same pending edits), a successful one, an undo or a regeneration starts afresh
from the run (a new key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

import storygen
from storygen import RunDir, Scene, Script, StoryGenError
from storygen.analysis import tables
from storygen.core.continuity import Finding
from ui.actions import action, said

# What a person may change in a cell: every text field of a scene, the characters as "A, B"
# and the dialogues as "Speaker: line" a line, as the table shows them (storygen.edit reads
# both back, and says what is wrong with them).
EDITABLE = (
    "title",
    "location",
    "characters",
    "camera",
    "narration",
    "dialogues",
    "visual_prompt",
    "summary",
)
COLUMNS = [
    "scene",
    "stale",
    "duration_s",
    "title",
    "findings",
    "location",
    "characters",
    "camera",
    "narration",
    "dialogues",
    "visual_prompt",
    "summary",
]
COLUMN_CONFIG = {
    "scene": st.column_config.NumberColumn("scene", width="small"),
    "stale": st.column_config.CheckboxColumn(
        "stale",
        width="small",
        help="Its prompt quoted a summary that has changed since: regenerate it "
        "(Regenerate, the stale ones).",
    ),
    "characters": st.column_config.TextColumn(help="Names separated by commas: Ada, Bo"),
    "narration": st.column_config.TextColumn(width="large"),
    "visual_prompt": st.column_config.TextColumn(width="large"),
    "summary": st.column_config.TextColumn(
        width="medium", help="What later scenes are told happened here."
    ),
    "dialogues": st.column_config.TextColumn(
        help='One line each, "Speaker: line" (Shift+Enter starts a new line).'
    ),
}


@dataclass
class Outcome:
    """What the last Save, Undo or Regenerate of a run did, shown under its table."""

    done: str = ""
    errors: list[str] = field(default_factory=list)


def editor_frame(script: Script, findings: Iterable[Finding] = ()) -> pd.DataFrame:
    """The script table (``tables.script_frame``, the findings last) with each scene's
    summary and stale marker; COLUMNS is the order shown."""
    frame = tables.script_frame(script.scenes, findings)
    by_index = {s.index: s for s in script.scenes}
    at = frame.columns.get_loc("findings")
    frame.insert(at, "summary", [by_index[int(i)].summary for i in frame["scene"]])
    frame.insert(at + 1, "stale", [int(i) in script.stale for i in frame["scene"]])
    return frame


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _shown(scene: Scene, name: str) -> str:
    """A field as its cell shows it (``tables.script_frame``)."""
    if name == "characters":
        return ", ".join(scene.characters)
    if name == "dialogues":
        return "\n".join(f"{d.speaker}: {d.line}" for d in scene.dialogues)
    return str(getattr(scene, name))


def scene_changes(
    script: Script, edited_rows: Mapping[int | str, Mapping[str, object]]
) -> dict[int, dict[str, object]]:
    """Per scene index, the fields whose cell now differs from the run (a cell typed over and
    typed back is no change). ``edited_rows`` is the table's pending edits by row position."""
    scenes = sorted(script.scenes, key=lambda s: s.index)
    changes: dict[int, dict[str, object]] = {}
    for row, cells in edited_rows.items():
        scene = scenes[int(row)]
        fields: dict[str, object] = {
            name: _cell(value)
            for name, value in cells.items()
            if name in EDITABLE and _cell(value) != _shown(scene, name)
        }
        if fields:
            changes[scene.index] = fields
    return changes


def _generation_key(key: str, run: RunDir) -> str:
    return f"{key}_gen_{run.run_id}"


def editor_key(key: str, run: RunDir) -> str:
    """The table's widget key: pending edits live under it until a change goes through."""
    return f"{key}_editor_{run.run_id}_{st.session_state.get(_generation_key(key, run), 0)}"


def changed(key: str, run: RunDir, outcome: Outcome) -> None:
    """Record what a change did; when nothing failed, start the table afresh from the run."""
    st.session_state[f"{key}_outcome_{run.run_id}"] = outcome
    if not outcome.errors:
        generation = _generation_key(key, run)
        st.session_state[generation] = st.session_state.get(generation, 0) + 1


def _message(index: int, exc: StoryGenError) -> str:
    """storygen's messages start with the field they refuse ("narration: must not be…")."""
    return f"Scene {index}: {exc}"


def _save(run: RunDir, key: str, pending_key: str) -> None:
    with action(f"{key}_edit"):  # a run deleted meanwhile, a bug: one line, never a crash
        _save_changes(run, key, pending_key)


def _undo(run: RunDir, key: str) -> None:
    with action(f"{key}_edit"):
        _undo_last(run, key)


def _save_changes(run: RunDir, key: str, pending_key: str) -> None:
    """Each changed scene through storygen.edit: one version a changed scene. A refused
    scene is not written and its cells keep what was typed; the others are saved."""
    script = run.load_script()
    pending = st.session_state.get(pending_key) or {}
    if script is None:
        return
    changes = scene_changes(script, pending.get("edited_rows", {}))
    if not changes:
        changed(key, run, Outcome("Nothing to save: no cell differs from the run."))
        return
    saved: list[int] = []
    errors: list[str] = []
    for index, fields in changes.items():
        try:
            storygen.edit(run, scene=index, **fields)
        except StoryGenError as exc:
            errors.append(_message(index, exc))
        else:
            saved.append(index)
    done = f"Saved scene{'s' if len(saved) > 1 else ''} {_list(saved)}." if saved else ""
    changed(key, run, Outcome(done, errors))


def _undo_last(run: RunDir, key: str) -> None:
    before = _last_change(run)
    try:
        storygen.undo(run)
    except StoryGenError as exc:
        changed(key, run, Outcome("", [f"Undo: {exc}"]))
        return
    changed(key, run, Outcome(f"Undone: {before}." if before else "Undone."))


def _list(indexes: Iterable[int]) -> str:
    return ", ".join(str(i) for i in indexes)


def _last_change(run: RunDir) -> str:
    """The change Undo takes back, in words ("the edit of scene 4"); "" when there is none.
    An undo counts as the version it restored, so Undo after Undo goes further back."""
    versions = storygen.history(run)
    v = versions[-1].number if versions else 0
    while (restored := versions[v].restores) is not None and versions[v].action == "undo":
        v = restored
    if v < 1:
        return ""
    change = versions[v]
    plural = "s" if len(change.scenes) > 1 else ""
    return f"the {change.action} of scene{plural} {_list(change.scenes)}"


def outcome(key: str, run: RunDir) -> None:
    """The last change's messages: each refusal names its scene and field."""
    said(f"{key}_edit")
    found = st.session_state.get(f"{key}_outcome_{run.run_id}")
    if not isinstance(found, Outcome):
        return
    for error in found.errors:
        st.error(error, icon=":material/error:")
    if found.done:
        st.success(found.done, icon=":material/check_circle:")


def scene_editor(run: RunDir, script: Script, findings: Iterable[Finding], *, key: str) -> None:
    """The table (text cells editable), the messages of the last change, Save and Undo."""
    try:
        last = _last_change(run)
    except StoryGenError as exc:  # not finished (resumed since), or its files unreadable
        st.dataframe(editor_frame(script, findings), hide_index=True, key=f"{key}_table")
        st.caption(f"Not editable: {exc}")
        return
    if script.stale:
        st.warning(
            f"Stale: scene{'s' if len(script.stale) > 1 else ''} {_list(sorted(script.stale))}. "
            "Their prompts quoted a summary that has changed; regenerate them below.",
            icon=":material/history:",
        )
    pending_key = editor_key(key, run)
    st.data_editor(
        editor_frame(script, findings),
        key=pending_key,
        hide_index=True,
        num_rows="fixed",
        column_order=COLUMNS,
        column_config=COLUMN_CONFIG,
        disabled=[c for c in COLUMNS if c not in EDITABLE],
    )
    outcome(key, run)
    save, undo, hint = st.columns([1, 1, 4], vertical_alignment="center")
    save.button(
        "Save",
        type="primary",
        key=f"{key}_save",
        on_click=_save,
        args=(run, key, pending_key),
        width="stretch",
        help="Each changed scene is checked as a model's answer would be, then saved; "
        "the run keeps the previous version.",
    )
    undo.button(
        "Undo",
        key=f"{key}_undo",
        on_click=_undo,
        args=(run, key),
        disabled=not last,
        width="stretch",
        help=f"Restores the version before {last}." if last else "Nothing to undo.",
    )
    pending = st.session_state.get(pending_key) or {}
    hint.caption(unsaved(scene_changes(script, pending.get("edited_rows") or {})))


def unsaved(changes: Mapping[int, Mapping[str, object]]) -> str:
    """What Save would write, in words: "Unsaved: scene 1 (narration)."."""
    if not changes:
        return "Edit a cell, then Save. Every change keeps the previous version in the run."
    parts = [f"scene {k} ({', '.join(fields)})" for k, fields in sorted(changes.items())]
    return f"Unsaved: {'; '.join(parts)}."
