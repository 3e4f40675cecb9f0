"""A person edits a finished script: checked as a model's answer, every version kept, undo
brings back the very bytes, and the scenes that quoted a changed summary are marked stale."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FAST

from storygen import (
    Dialogue,
    InvalidRequestError,
    RunDir,
    RunStore,
    ScriptRequest,
    SimulatedBackend,
    edit,
    export_run,
    generate,
    history,
    undo,
)
from storygen.core.errors import RunLockedError

REQUEST = ScriptRequest(idea="A fox learns to fly", duration_s=80, concurrency=3, context_scenes=2)


def finished_run(tmp_path: Path, request: ScriptRequest = REQUEST) -> Path:
    store = RunStore(tmp_path / "runs")
    generate(request, SimulatedBackend(time_scale=FAST), store=store)
    return next(iter(store)).path


def script_json(run: Path) -> dict[str, object]:
    return dict(json.loads((run / "script.json").read_text("utf-8")))


def scene(run: Path, k: int) -> dict[str, object]:
    scenes = script_json(run)["scenes"]
    assert isinstance(scenes, list)
    return dict(scenes[k - 1])


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"narration": ""}, "narration"),
        ({"narration": "   \n"}, "narration"),
        ({"title": " "}, "title"),
        ({"visual_prompt": 3}, "visual_prompt"),
        ({"characters": ["Ana", " "]}, "characters"),
        ({"dialogues": ["no colon here"]}, "dialogues"),
        ({"dialogues": [{"speaker": "Ana", "line": " "}]}, "dialogues"),
        ({"mood": "dark"}, "mood"),
    ],
)
def test_an_edit_is_refused_naming_the_field_and_nothing_is_written(
    tmp_path: Path, fields: dict[str, object], named: str
) -> None:
    run = finished_run(tmp_path)
    before = (run / "script.json").read_bytes()
    with pytest.raises(InvalidRequestError) as info:
        edit(run, scene=4, **fields)
    assert info.value.field == named
    assert str(info.value).startswith(named)
    assert "allowed" in str(info.value)
    assert (run / "script.json").read_bytes() == before
    assert not (run / "versions").exists() and not (run / "history.jsonl").exists()


def test_an_empty_narration_is_refused_with_a_message_naming_it(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    with pytest.raises(InvalidRequestError, match=r"^narration: must not be empty"):
        edit(run, scene=2, narration="")


def test_a_scene_out_of_range_says_which_scenes_exist(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    with pytest.raises(InvalidRequestError, match=r"scene: 11 is not a scene .*1 to 10"):
        edit(run, scene=11, narration="x")


def test_an_edit_keeps_the_previous_version_and_undo_restores_it_byte_for_byte(
    tmp_path: Path,
) -> None:
    run = finished_run(tmp_path)
    generated = (run / "script.json").read_bytes()
    script = edit(run, scene=4, narration="The fox jumps.", characters="Ana, Tom")
    assert script.scenes[3].narration == "The fox jumps."
    assert scene(run, 4)["characters"] == ["Ana", "Tom"]
    assert (run / "versions" / "0000.json").read_bytes() == generated

    restored = undo(run)
    assert (run / "script.json").read_bytes() == generated
    assert restored.scenes[3].narration != "The fox jumps."
    assert sorted(p.name for p in (run / "versions").iterdir()) == ["0000.json", "0001.json"]


def test_dialogues_take_lines_dicts_or_text_and_keep_the_other_fields(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    title = scene(run, 3)["title"]
    edit(
        run,
        scene=3,
        dialogues=[
            "Ana: Up we go.",
            {"speaker": "Tom", "line": "Careful!"},
            Dialogue(speaker="Ana", line="Now."),
        ],
    )
    assert scene(run, 3)["dialogues"] == [
        {"speaker": "Ana", "line": "Up we go."},
        {"speaker": "Tom", "line": "Careful!"},
        {"speaker": "Ana", "line": "Now."},
    ]
    edit(run, scene=3, dialogues="Tom: One.\n\nAna: Two: three.")
    assert scene(run, 3)["dialogues"] == [
        {"speaker": "Tom", "line": "One."},
        {"speaker": "Ana", "line": "Two: three."},
    ]
    assert scene(run, 3)["title"] == title


def test_the_same_text_again_makes_no_version(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    narration = scene(run, 5)["narration"]
    edit(run, scene=5, narration=f"  {narration} ")
    assert not (run / "history.jsonl").exists()
    assert [v.action for v in history(run)] == ["generate"]


def test_undo_twice_goes_back_twice_and_then_there_is_nothing_to_undo(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    texts = [(run / "script.json").read_bytes()]
    edit(run, scene=1, title="One")
    texts.append((run / "script.json").read_bytes())
    edit(run, scene=2, title="Two")

    undo(run)
    assert (run / "script.json").read_bytes() == texts[1]
    undo(run)
    assert (run / "script.json").read_bytes() == texts[0]
    with pytest.raises(InvalidRequestError, match="nothing to undo"):
        undo(run)
    assert [(v.number, v.action, v.restores) for v in history(run)] == [
        (0, "generate", None),
        (1, "edit", None),
        (2, "edit", None),
        (3, "undo", 1),
        (4, "undo", 0),
    ]


def test_history_lists_the_versions_and_filters_by_scene(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    edit(run, scene=4, narration="Four.")
    edit(run, scene=6, narration="Six.")
    undo(run)
    versions = history(run)
    assert [(v.number, v.action, v.scenes) for v in versions] == [
        (0, "generate", tuple(range(1, 11))),
        (1, "edit", (4,)),
        (2, "edit", (6,)),
        (3, "undo", (6,)),
    ]
    assert all(v.at for v in versions)
    assert [v.number for v in history(run, scene=4)] == [0, 1]
    with pytest.raises(InvalidRequestError, match="scene: 12"):
        history(run, scene=12)


def test_a_summary_edit_marks_the_scenes_that_quoted_it_stale(tmp_path: Path) -> None:
    run = finished_run(tmp_path)  # context_scenes 2: scenes 5 and 6 quoted scene 4
    script = edit(run, scene=4, narration="Only the narration.")
    assert script.stale == []
    script = edit(run, scene=4, summary="The fox falls into the river.")
    assert script.stale == [5, 6]
    script = edit(run, scene=9, summary="The fox lands.")
    assert script.stale == [5, 6, 10]
    assert script_json(run)["stale"] == [5, 6, 10]


def test_an_outline_run_marks_nothing_stale_since_its_scenes_quoted_beats(
    tmp_path: Path,
) -> None:
    outline = REQUEST.model_copy(update={"strategy": "outline"})
    run = finished_run(tmp_path, outline)
    assert edit(run, scene=4, summary="The fox falls.").stale == []


def test_the_continuity_check_is_run_again_on_the_edited_script(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    long = " ".join(["The fox runs on and on across the wide field."] * 8)
    script = edit(run, scene=2, narration=long)
    assert [f.scene for f in script.findings if f.kind == "narration_too_long"] == [2]
    assert script_json(run)["findings"]


def test_the_run_s_own_exports_are_rewritten_with_the_change(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    export_run(run, run / "script.md")
    export_run(run, run / "script.srt")
    edit(run, scene=3, narration="A brand new line.")
    assert "A brand new line." in (run / "script.md").read_text("utf-8")
    assert "A brand new line." in (run / "script.srt").read_text("utf-8")
    assert not (run / "script.vtt").exists()  # only the exports the run had


def test_export_writes_a_finished_run_without_resuming_it(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    out = export_run(run, tmp_path / "out" / "script.csv")
    assert out.read_text("utf-8-sig").startswith("index,duration_s")
    with pytest.raises(InvalidRequestError, match="unknown export format"):
        export_run(run, tmp_path / "script.txt")


def test_an_unfinished_run_is_refused_saying_to_resume_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    with pytest.raises(Exception):  # noqa: B017 - the run fails on purpose
        generate(REQUEST, SimulatedBackend(time_scale=FAST, fail_scenes={3}), store=store)
    run = next(iter(store)).path
    for change in (
        lambda: edit(run, scene=1, title="x"),
        lambda: export_run(run, tmp_path / "x.md"),
        lambda: undo(run),
    ):
        with pytest.raises(InvalidRequestError, match=r"not finished \(status: failed\).*resume"):
            change()


def test_a_change_is_refused_while_another_process_writes_the_run(tmp_path: Path) -> None:
    run = finished_run(tmp_path)
    before = (run / "script.json").read_bytes()
    with RunDir(run).writer():  # another writer (a separate lock, as a process holds)
        with pytest.raises(RunLockedError, match=f"process {os.getpid()}"):
            edit(run, scene=1, title="x")
        with pytest.raises(RunLockedError):
            undo(run)
    assert (run / "script.json").read_bytes() == before
    edit(run, scene=1, title="x")  # the lock is free again
