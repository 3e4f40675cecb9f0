"""`regenerate`, `edit`, `export`, `history`, `undo` end to end: what they print, the exit
codes, and the one line a mistake gets (exit 2, the flag typed named, nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST

from storygen import RunDir, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.cli.edits import scene_list
from storygen.cli.flags import Usage
from storygen.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ScriptRequest(idea="A fox learns to fly", duration_s=80, concurrency=3, context_scenes=2)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    store = RunStore(tmp_path / "runs")
    generate(REQUEST, SimulatedBackend(time_scale=FAST), store=store)
    return next(iter(store)).path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def narration(run: Path, k: int) -> str:
    return str(json.loads((run / "script.json").read_text("utf-8"))["scenes"][k - 1]["narration"])


def test_edit_history_undo_end_to_end(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "edit", str(run), "--scene", "4", "--narration", "It flies.")
    assert code == 0
    assert out.splitlines() == ["edited scene 4 (version 1)", "no scene is stale"]
    assert narration(run, 4) == "It flies."

    code, out, _ = cli(capsys, "edit", str(run), "--scene", "4", "--summary", "The fox flies.")
    assert code == 0 and "stale (quoted a summary since changed): 5, 6" in out

    code, out, _ = cli(capsys, "history", str(run))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split()[0] == "0" and lines[0].endswith("generated")
    assert lines[1].endswith("edited scene 4") and lines[2].split()[0] == "2"

    code, out, _ = cli(capsys, "history", str(run), "--scene", "5")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["0"]

    code, out, _ = cli(capsys, "undo", str(run))
    assert code == 0
    assert out.splitlines() == [
        "undid version 2 (edited scene 4)",
        "restored version 1 as version 3",
    ]
    assert narration(run, 4) == "It flies."


def test_regenerate_scenes_and_ranges_with_a_note(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "regenerate", str(run), "--scenes", "3,7-8", "--note", "at night")
    assert code == 0
    assert out.splitlines()[0] == "regenerated scenes 3, 7, 8 (version 1)"
    code, out, _ = cli(capsys, "history", str(run))
    assert out.splitlines()[-1].endswith('regenerated scenes 3, 7, 8 (note: "at night")')


def test_regenerate_stale_with_nothing_stale_says_so(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "regenerate", str(run), "--stale")
    assert (code, out) == (0, "nothing to regenerate: no scene is stale\n")


def test_export_writes_any_format_from_a_run(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "out.md"
    code, out, _ = cli(capsys, "export", str(run), "--out", str(out_file))
    assert code == 0 and out == f"script: {out_file}\n"
    assert out_file.read_text("utf-8").startswith("# ")
    code, _, _ = cli(capsys, "export", str(run), "--out", str(tmp_path / "x"), "--format", "csv")
    assert code == 0 and (tmp_path / "x").read_text("utf-8-sig").startswith("index,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["edit", "{run}", "--scene", "4", "--narration", ""], "--narration: must not be empty"),
        (["edit", "{run}", "--scene", "4", "--visual-prompt", " "], "--visual-prompt: must not"),
        (["edit", "{run}", "--scene", "11", "--title", "x"], "--scene: 11 is not a scene"),
        (["edit", "{run}", "--scene", "4"], "edit needs at least one field"),
        (["edit", "{run}", "--scene", "4", "--dialogue", "no colon"], "--dialogue[1]:"),
        (["regenerate", "{run}"], "regenerate needs --scenes"),
        (["regenerate", "{run}", "--scenes", "9-7"], "--scenes takes scene numbers"),
        (["regenerate", "{run}", "--scenes", "2,x"], "--scenes takes scene numbers"),
        (["regenerate", "{run}", "--scenes", "0"], "--scenes: 0 is not a scene"),
        (["undo", "{run}"], "nothing to undo"),
        (["history", "{run}", "--scene", "0"], "--scene: 0 is not a scene"),
        (["export", "{run}", "--out", "{tmp}/x.txt"], "unknown export format"),
        (["export", "{tmp}/nowhere", "--out", "{tmp}/x.md"], "no run at"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2_and_changes_nothing(
    run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    before = (run / "script.json").read_bytes()
    argv = [a.format(run=run, tmp=tmp_path) for a in args]
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert (run / "script.json").read_bytes() == before
    assert not (run / "history.jsonl").exists()


def test_an_unfinished_run_is_refused_saying_to_resume_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RunStore(tmp_path / "runs")
    with pytest.raises(Exception):  # noqa: B017 - the run fails on purpose
        generate(REQUEST, SimulatedBackend(time_scale=FAST, fail_scenes={2}), store=store)
    run = next(iter(store)).path
    for args in (["export", str(run), "--out", str(tmp_path / "x.md")], ["undo", str(run)]):
        code, _, err = cli(capsys, *args)
        assert code == 2
        assert "is not finished (status: failed); resume it first" in err
        assert err.count("\n") == 1


def test_a_run_being_written_is_refused_with_its_holder(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunDir(run).writer():
        code, _, err = cli(capsys, "edit", str(run), "--scene", "1", "--title", "x")
    assert code == 1
    assert f"run {run} is being written by process" in err and err.count("\n") == 1


def test_scene_lists_take_numbers_and_ranges() -> None:
    assert scene_list("3,7-9") == [3, 7, 8, 9]
    assert scene_list(" 2 , 4 - 5 ") == [2, 4, 5]
    with pytest.raises(Usage, match="'7-'"):
        scene_list("3,7-")


def test_python_m_storygen_runs_the_new_commands(run: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "edit", str(run), "--scene", "2", "--title", "Up"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("edited scene 2 (version 1)")
