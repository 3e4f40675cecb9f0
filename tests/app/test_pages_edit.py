"""Editing a saved run in the app: the scene table's Save and Undo, Regenerate with a note,
and each message right where the user looks (under the table, under the field)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _dashboard import FAST, open_app, poll
from streamlit.testing.v1 import AppTest

from storygen import RunStore, Script, ScriptRequest, SimulatedBackend, generate, history

RUNS = "pages/runs.py"
NEW_NARRATION = "At dawn the fox pulls the first loaves from the oven."


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """One finished 10-scene run, batched by 5."""
    store = RunStore(tmp_path / "runs")
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=80, concurrency=5)
    generate(request, SimulatedBackend(time_scale=FAST), store=store)
    (info,) = store.list()
    return info.path


def _script(run: Path) -> Script:
    return Script.model_validate_json((run / "script.json").read_text("utf-8"))


def _opened(monkeypatch: pytest.MonkeyPatch, run: Path) -> AppTest:
    at = open_app(monkeypatch, run.parent, page=RUNS)
    at.selectbox(key="runs_open").set_value(run.name).run()
    assert not at.exception, at.exception
    return at


def _type(at: AppTest, row: int, **cells: Any) -> AppTest:
    """What a person types into the table (row = position, 0 for scene 1), not yet saved."""
    key = at.data_editor[0].key
    pending = at.session_state.get(key) or {}
    rows = {**(pending.get("edited_rows") or {}), row: cells}
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    return at.run()


def _leaves(block: Any) -> list[Any]:
    """What is drawn in ``block``, in order (its descendants, without containers)."""
    return [
        n
        for n in block
        if not hasattr(n, "children") and getattr(n, "type", "") not in ("empty", "")
    ]


def _after_table(at: AppTest) -> list[Any]:
    """The elements between the scene table and the Save button: its messages."""
    flat = _leaves(at.tabs[0])
    start = next(i for i, n in enumerate(flat) if n.type == "dataframe")
    end = next(i for i, n in enumerate(flat) if getattr(n, "label", None) == "Save")
    return flat[start + 1 : end]


def test_the_scene_table_is_editable_in_its_text_fields_only(monkeypatch, run) -> None:
    at = _opened(monkeypatch, run)
    editor = at.data_editor[0]
    assert editor.editing_mode == "fixed"  # no scene is added or deleted here
    table = editor.value
    assert list(table["scene"]) == list(range(1, 11))
    assert not table["stale"].any()
    assert list(table["summary"]) == [s.summary for s in _script(run).scenes]


def test_saving_an_edited_narration_writes_the_run_and_keeps_a_version(monkeypatch, run) -> None:
    before = _script(run)
    at = _opened(monkeypatch, run)
    _type(at, 2, narration=NEW_NARRATION)
    at.button(key="runs_save").click().run()
    assert not at.exception, at.exception

    after = _script(run)
    assert after.scenes[2].narration == NEW_NARRATION
    assert [s for i, s in enumerate(after.scenes) if i != 2] == [
        s for i, s in enumerate(before.scenes) if i != 2
    ]
    versions = history(run)
    assert [(v.action, v.scenes) for v in versions][-1] == ("edit", (3,))
    kept = sorted((run / "versions").glob("*.json"))
    assert len(kept) == 1 and Script.model_validate_json(kept[0].read_text("utf-8")) == before
    (saved,) = _after_table(at)
    assert saved.type == "success" and saved.value == "Saved scene 3."
    # the table now shows the run as saved, with no edit pending
    assert at.data_editor[0].value["narration"][2] == NEW_NARRATION


def test_an_empty_narration_is_refused_under_the_table_and_nothing_is_saved(
    monkeypatch, run
) -> None:
    script_json = (run / "script.json").read_bytes()
    at = _opened(monkeypatch, run)
    _type(at, 3, narration="   ", title="A new title")
    key = at.data_editor[0].key
    at.button(key="runs_save").click().run()
    assert not at.exception, at.exception

    (message,) = _after_table(at)
    assert message.type == "error"
    assert message.value.startswith("Scene 4: narration:")
    assert (run / "script.json").read_bytes() == script_json
    assert not list((run / "versions").glob("*.json"))
    # what was typed is still there, to be fixed and saved again
    assert at.data_editor[0].key == key
    assert at.session_state[key]["edited_rows"][3]["title"] == "A new title"
    _type(at, 3, narration=NEW_NARRATION, title="A new title")
    at.button(key="runs_save").click().run()
    saved = _script(run).scenes[3]
    assert (saved.title, saved.narration) == ("A new title", NEW_NARRATION)


def test_undo_restores_the_run_as_it_was(monkeypatch, run) -> None:
    original = _script(run)
    at = _opened(monkeypatch, run)
    assert at.button(key="runs_undo").disabled  # nothing changed yet
    _type(at, 0, title="Flour everywhere", characters="Fox, Badger")
    at.button(key="runs_save").click().run()
    edited = _script(run).scenes[0]
    assert (edited.title, edited.characters) == ("Flour everywhere", ["Fox", "Badger"])

    at.button(key="runs_undo").click().run()
    assert not at.exception, at.exception
    assert _script(run).scenes == original.scenes
    assert "Undone: the edit of scene 1" in _after_table(at)[0].value
    assert at.data_editor[0].value["title"][0] == original.scenes[0].title


def test_regenerate_with_a_note_writes_the_picked_scenes_only(monkeypatch, run) -> None:
    before = _script(run)
    at = _opened(monkeypatch, run)
    at.multiselect(key=f"runs_regen_scenes_{run.name}").set_value([2, 7])
    at.text_input(key=f"runs_regen_note_{run.name}").input("make it night")
    at.button(key="runs_regenerate").click().run()
    assert not at.exception, at.exception

    after = _script(run)
    changed = [s.index for s, b in zip(after.scenes, before.scenes, strict=True) if s != b]
    assert changed == [2, 7]
    last = history(run)[-1]
    assert (last.action, last.scenes, last.note) == ("regenerate", (2, 7), "make it night")
    assert any("Regenerated scenes 2, 7" in m.value for m in at.success)
    # the picks and the note start empty again
    assert at.multiselect(key=f"runs_regen_scenes_{run.name}").value == []
    assert at.text_input(key=f"runs_regen_note_{run.name}").value == ""


def test_regenerate_with_nothing_picked_says_so_under_the_picker(monkeypatch, run) -> None:
    script_json = (run / "script.json").read_bytes()
    at = _opened(monkeypatch, run)
    at.button(key="runs_regenerate").click().run()
    nodes = list(_leaves(at.tabs[0]))
    picker = next(
        i for i, n in enumerate(nodes) if getattr(n, "label", None) == "Scenes to write again"
    )
    assert nodes[picker + 1].value == "Pick at least one scene, or tick the stale ones."
    assert (run / "script.json").read_bytes() == script_json


def test_a_changed_summary_marks_later_scenes_stale_and_regenerating_them_clears_it(
    monkeypatch, run
) -> None:
    at = _opened(monkeypatch, run)
    _type(at, 1, summary="The fox burns every loaf and closes the bakery.")
    at.button(key="runs_save").click().run()
    stale = _script(run).stale
    assert stale and min(stale) > 2
    table = at.data_editor[0].value
    assert list(table.loc[table["stale"], "scene"]) == stale
    assert any(f"{stale[0]}" in w.value for w in at.warning)
    tick = at.checkbox(key=f"runs_regen_stale_{run.name}")
    assert not tick.disabled
    tick.check()
    at.button(key="runs_regenerate").click().run()
    assert not at.exception, at.exception
    assert list(history(run)[-1].scenes) == stale
    # they leave the list; their new summaries make the scenes after them stale in turn
    now = _script(run).stale
    assert not set(now) & set(stale) and all(k > max(stale) for k in now)
    table = at.data_editor[0].value
    assert list(table.loc[table["stale"], "scene"]) == now
    done = next(m.value for m in at.success if m.value.startswith("Regenerated"))
    assert done == f"Regenerated scenes {', '.join(map(str, stale))}." + (
        f" Still stale: {', '.join(map(str, now))}." if now else ""
    )


def test_the_generate_page_edits_the_run_it_just_wrote(monkeypatch, tmp_path) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)
    at.button[0].click().run()
    poll(at, lambda at: len(at.success) > 0)
    (info,) = RunStore(runs).list()
    _type(at, 0, narration=NEW_NARRATION)
    at.button(key="gen_save").click().run()
    assert not at.exception, at.exception
    assert _script(info.path).scenes[0].narration == NEW_NARRATION
    # the page shows the run as saved, not the job's copy of it
    assert at.data_editor[0].value["narration"][0] == NEW_NARRATION
    assert any(NEW_NARRATION in m.value for m in at.markdown)  # the screenplay tab


def test_dialogues_are_typed_a_line_each_and_a_line_without_a_speaker_is_refused(
    monkeypatch, run
) -> None:
    at = _opened(monkeypatch, run)
    _type(at, 1, dialogues="Fox: Fresh bread!\nBadger: Two loaves, please.")
    at.button(key="runs_save").click().run()
    said = [(d.speaker, d.line) for d in _script(run).scenes[1].dialogues]
    assert said == [("Fox", "Fresh bread!"), ("Badger", "Two loaves, please.")]

    script_json = (run / "script.json").read_bytes()
    _type(at, 1, dialogues="Fresh bread, shouted nobody")
    at.button(key="runs_save").click().run()
    (message,) = _after_table(at)
    assert message.type == "error"
    assert message.value.startswith("Scene 2: dialogues[1]:")
    assert (run / "script.json").read_bytes() == script_json
