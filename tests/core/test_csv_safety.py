"""CSV injection (OWASP): a text cell that a spreadsheet would run as a formula is written
with a leading single quote, in every CSV storygen writes; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd
import pytest

from storygen import (
    Comparison,
    RunDir,
    RunStore,
    Script,
    ScriptRequest,
    SimulatedBackend,
    edit,
    export,
    export_run,
    generate,
)
from storygen.analysis import frames

PAYLOAD = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run whose scene 2 narration a person set to a formula, with storygen.edit."""
    store = RunStore(tmp_path_factory.mktemp("csv_safety") / "runs")
    request = ScriptRequest(idea="A keeper finds a map", duration_s=24)
    generate(request, SimulatedBackend(time_scale=0), store=store)
    path = next(iter(store)).path
    edit(path, scene=2, narration=PAYLOAD)
    return path


@pytest.fixture(scope="module")
def edited(run: Path) -> Script:
    script = RunDir(run).finished_script()
    assert script is not None and script.scenes[1].narration == PAYLOAD
    return script


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_starting_like_a_formula_gets_a_leading_quote(start: str) -> None:
    assert export.safe_cell(start + "1+1") == "'" + start + "1+1"


@pytest.mark.parametrize("text", ["", "plain", " =1", "'=1", "a=b", "1-2", "ok\n=1"])
def test_other_text_is_left_as_written(text: str) -> None:
    assert export.safe_cell(text) == text


def test_the_script_csv_neutralises_the_edited_narration_and_nothing_else(
    run: Path, edited: Script, tmp_path: Path
) -> None:
    written = export_run(run, tmp_path / "script.csv")
    rows = _read(written.read_text(encoding="utf-8"))
    assert rows[1]["narration"] == "'" + PAYLOAD
    assert rows[0]["narration"] == edited.scenes[0].narration
    assert [r["index"] for r in rows] == ["1", "2", "3"]
    # the table keeps the text as written: only the CSV writer neutralises
    assert edited.to_dataframe()["narration"][1] == PAYLOAD


def test_the_shot_list_csv_neutralises_it_and_keeps_its_numbers(run: Path, tmp_path: Path) -> None:
    rows = _read(export_run(run, tmp_path / "clips.shots.csv").read_text(encoding="utf-8"))
    assert rows[1]["narration"] == "'" + PAYLOAD
    assert [float(r["start_s"]) for r in rows] == [0.0, 8.0, 16.0]


def test_formats_that_are_not_csv_keep_the_text_as_written(edited: Script) -> None:
    assert f'"narration": "{PAYLOAD.replace(chr(34), chr(92) + chr(34))}"' in export.render(
        edited, "shots-jsonl"
    )
    assert PAYLOAD in export.render(edited, "srt")


def test_every_text_column_of_the_shot_list_is_neutralised() -> None:
    script = generate(ScriptRequest(idea="A map", duration_s=16), SimulatedBackend(time_scale=0))
    first = script.scenes[0].model_copy(
        update={"visual_prompt": "-1 on the dial", "camera": "@handheld", "narration": "+ more"}
    )
    rows = _read(export.render(script.model_copy(update={"scenes": [first]}), "shots-csv"))
    assert (rows[0]["visual_prompt"], rows[0]["camera"], rows[0]["narration"]) == (
        "'-1 on the dial",
        "'@handheld",
        "'+ more",
    )


def test_a_frame_csv_neutralises_text_cells_and_leaves_negative_numbers_numbers() -> None:
    frame = pd.DataFrame(
        {"config": [PAYLOAD, "batched(5)"], "delta_s": [-1.5, 2.0], "calls": [-3, 4]}
    )
    rows = _read(export.frame_csv(frame))
    assert [r["config"] for r in rows] == ["'" + PAYLOAD, "batched(5)"]
    assert [float(r["delta_s"]) for r in rows] == [-1.5, 2.0]
    assert [int(r["calls"]) for r in rows] == [-3, 4]
    assert frame["config"][0] == PAYLOAD  # the frame itself is not changed


def _comparison(edited: Script) -> Comparison:
    return Comparison(request=edited.request, scripts={PAYLOAD: edited}, baseline="estimated")


def test_the_comparison_csv_of_a_notebook_neutralises_its_labels(
    edited: Script, tmp_path: Path
) -> None:
    comparison = _comparison(edited)
    rows = _read(comparison.to_csv(tmp_path / "c.csv").read_text(encoding="utf-8"))
    assert rows[0]["config"] == "'" + PAYLOAD
    assert math.isclose(float(rows[0]["speedup"]), comparison.summary["speedup"][0])


def test_the_compare_pages_csv_downloads_neutralise_their_text(edited: Script) -> None:
    from ui.results import comparison_files

    comparison = _comparison(edited)
    timeline = frames.scenes_of([edited], [PAYLOAD])
    files = comparison_files(
        comparison.summary, frames.batch_frame(timeline), timeline, {}, edited.request
    )
    by_name = {f.file_name: f.content() for f in files}
    summary = _read(str(by_name["comparison.csv"]))
    scenes = _read(str(by_name["comparison-scenes.csv"]))
    assert summary[0]["config"] == "'" + PAYLOAD
    assert {r["config"] for r in scenes} == {"'" + PAYLOAD}
    assert [float(r["start_s"]) for r in scenes] == list(timeline["start_s"])
