"""Regenerate picked scenes of a saved run, with a note for the model, each message under its
field.

It runs in the page's own script run, under a spinner, not as a background job: its scenes are
written in parallel, so it lasts about one call whatever the number of scenes, and a Job (a
child process the page polls) would be needed only for runs that last minutes.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import storygen
from storygen import Backend, InvalidRequestError, RunDir, Script
from storygen.backends.factory import build_backend
from storygen.runner.edits import NOTE_MOST
from storygen.runner.runs import resume_config
from ui import state
from ui.actions import action
from ui.editor import Outcome, changed


def _keys(key: str, run: RunDir) -> dict[str, str]:
    return {w: f"{key}_regen_{w}_{run.run_id}" for w in ("scenes", "stale", "note", "reset")}


def _clear(keys: dict[str, str]) -> None:
    """After a regeneration went through, the picks and the note start empty again: set, not
    dropped, so that the browser is told (allowed only before the widgets are drawn, hence
    the flag the run before left)."""
    if st.session_state.pop(keys["reset"], False):
        st.session_state[keys["scenes"]] = []
        st.session_state[keys["stale"]] = False
        st.session_state[keys["note"]] = ""


def _backend(run: RunDir) -> Backend:
    """The run's own backend, with the sidebar's key when the run used a real API."""
    choice = state.backend()
    return build_backend(resume_config(run, choice.config))


def regenerate_controls(run: RunDir, script: Script, *, key: str) -> None:
    """Scenes to write again (and/or the stale ones), a note, the button."""
    keys = _keys(key, run)
    _clear(keys)
    titles = {s.index: s.title for s in script.scenes}
    st.markdown("**Regenerate scenes**")
    picks, note_col = st.columns([3, 2])
    with picks:
        scenes: list[int] = st.multiselect(
            "Scenes to write again",
            list(titles),
            key=keys["scenes"],
            format_func=lambda i: f"{i} · {titles[i]}",
            placeholder="Pick scenes",
            help="Each is told the final text of the scenes around it, the story bible and "
            "your note; they are written in parallel, within the run's concurrency.",
        )
        scenes_slot = st.empty()
        stale = st.checkbox(
            f"and the stale ones ({len(script.stale)})",
            key=keys["stale"],
            disabled=not script.stale,
            help="Scenes whose prompts quoted a summary that has changed since.",
        )
    with note_col:
        note = st.text_input(
            "Note for the model",
            key=keys["note"],
            placeholder="make it night",
            max_chars=NOTE_MOST,
            help="Told to every scene written again, as an editor's note.",
        )
        note_slot = st.empty()
    clicked = st.button("Regenerate", key=f"{key}_regenerate", icon=":material/autorenew:")
    button_slot = st.empty()
    if not clicked:
        return
    if not scenes and not stale:
        scenes_slot.error("Pick at least one scene, or tick the stale ones.")
        return
    slots = {"scenes": scenes_slot, "note": note_slot}
    _run(run, key, keys, scenes, stale, note.strip() or None, slots, button_slot)


def _run(
    run: RunDir,
    key: str,
    keys: dict[str, str],
    scenes: list[int],
    stale: bool,
    note: str | None,
    slots: dict[str, DeltaGenerator],
    button_slot: DeltaGenerator,
) -> None:
    # locked by another writer, a backend that failed, a run deleted meanwhile: one line
    with action(button_slot):
        try:
            with st.spinner("Writing the scenes again…"):
                after = storygen.regenerate(
                    run, scenes=scenes, stale=stale, note=note, backend=_backend(run)
                )
        except InvalidRequestError as exc:
            slots.get(exc.field or "", button_slot).error(str(exc))
            return
        changed(key, run, Outcome(_done(_written(run), after)))
        st.session_state[keys["reset"]] = True
        st.rerun()


def _written(run: RunDir) -> list[int]:
    """The scenes the regeneration wrote, as its version records them (the stale ones
    included)."""
    versions = storygen.history(run)
    return sorted(versions[-1].scenes) if versions else []


def _done(written: list[int], after: Script) -> str:
    plural = "s" if len(written) > 1 else ""
    still = f" Still stale: {', '.join(map(str, after.stale))}." if after.stale else ""
    return f"Regenerated scene{plural} {', '.join(map(str, written))}.{still}"
