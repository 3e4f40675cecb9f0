"""The shot list for video models: one clip a row, looks locked, CSV and JSONL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from storygen import (
    Character,
    Dialogue,
    InvalidRequestError,
    Outline,
    RunMeta,
    Scene,
    Script,
    ScriptRequest,
    export,
)
from storygen.core.models import Bible
from storygen.core.shot_list import SHOT_COLUMNS

CAST = [
    Character(name="Mara Vell", role="keeper", visual_identity="grey coat, red scarf"),
    Character(name="Jon", role="fisherman", visual_identity="yellow oilskin"),
]


def _scene(index: int, duration_s: float, prompt: str, characters: list[str]) -> Scene:
    return Scene(
        index=index,
        duration_s=duration_s,
        title=f"Scene {index}",
        location="Harbour",
        characters=characters,
        camera=f"camera {index}, 35mm",
        visual_prompt=prompt,
        narration=f"Narration {index}, with a comma.",
        dialogues=[Dialogue(speaker="Jon", line="Hi.")] if index == 2 else [],
        summary="x",
    )


SCENES = [
    # scene 1 restates Mara's look already; scene 2 was edited after the run and lost Jon's
    _scene(1, 7.5, "Mara Vell in a grey coat, red scarf, on the pier", ["Mara Vell"]),
    _scene(2, 8, "Mara Vell hands over a map", ["Mara Vell"]),
    _scene(3, 4.25, "Empty sea", []),
]


def _script(bible: Bible | None = None, outline: Outline | None = None) -> Script:
    request = ScriptRequest(idea="A keeper", duration_s=20)
    meta = RunMeta(backend="simulated", model="sim", strategy="batched", concurrency=5)
    return Script(
        title="T", request=request, scenes=SCENES, meta=meta, bible=bible, outline=outline
    )


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_one_row_a_clip_with_its_start_and_every_column() -> None:
    rows = _csv_rows(export.render(_script(), "shots-csv"))
    assert tuple(rows[0]) == SHOT_COLUMNS == (
        "index", "start_s", "duration_s", "visual_prompt", "camera", "narration",
    )  # fmt: skip
    assert [(r["index"], r["start_s"], r["duration_s"]) for r in rows] == [
        ("1", "0.0", "7.5"),
        ("2", "7.5", "8.0"),
        ("3", "15.5", "4.25"),
    ]
    assert [r["camera"] for r in rows] == [s.camera for s in SCENES]
    assert [r["narration"] for r in rows] == [s.narration for s in SCENES]
    assert [r["visual_prompt"] for r in rows] == [s.visual_prompt for s in SCENES]


def test_with_a_bible_every_prompt_restates_the_looks_of_who_is_in_it() -> None:
    rows = _csv_rows(export.render(_script(bible=Bible(characters=CAST)), "shots-csv"))
    prompts = [r["visual_prompt"] for r in rows]
    assert prompts[0] == SCENES[0].visual_prompt  # already restated: left as written
    assert prompts[1] == (
        "Mara Vell hands over a map Mara Vell: grey coat, red scarf. Jon: yellow oilskin."
    )
    assert prompts[2] == "Empty sea"


def test_an_outline_runs_cast_locks_the_looks_too() -> None:
    outline = Outline(title="T", logline="l", characters=CAST, beats=["a", "b", "c"])
    lines = export.render(_script(outline=outline), "shots-jsonl").splitlines()
    assert "Jon: yellow oilskin." in json.loads(lines[1])["visual_prompt"]


def test_jsonl_is_one_object_a_clip_with_numbers_as_numbers() -> None:
    text = export.render(_script(), "shots-jsonl")
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows == [
        {
            "index": s.index,
            "start_s": start,
            "duration_s": s.duration_s,
            "visual_prompt": s.visual_prompt,
            "camera": s.camera,
            "narration": s.narration,
        }
        for s, start in zip(SCENES, [0.0, 7.5, 15.5], strict=True)
    ]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("clips.shots.csv", "shots-csv"),
        ("clips.SHOTS.CSV", "shots-csv"),
        ("clips.jsonl", "shots-jsonl"),
        ("clips.shots.jsonl", "shots-jsonl"),
        ("script.csv", "csv"),
        ("script.json", "json"),
        ("subs.srt", "srt"),
        ("subs.vtt", "vtt"),
        ("play.fountain", "fountain"),
        ("play.markdown", "md"),
    ],
)
def test_write_picks_the_format_by_suffix(tmp_path: Path, name: str, fmt: str) -> None:
    assert export.format_of(name) == fmt
    path = export.write(_script(), tmp_path / name)
    assert path.read_bytes().decode("utf-8") == export.render(_script(), fmt)


def test_an_unknown_suffix_names_every_allowed_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError) as info:
        export.write(_script(), tmp_path / "clips.txt")
    message = str(info.value)
    assert message.startswith("unknown export format 'txt' for clips.txt")
    for suffix in (".json", ".csv", ".md", ".srt", ".vtt", ".fountain", ".shots.csv", ".jsonl"):
        assert suffix in message
    assert info.value.field == "format" and not (tmp_path / "clips.txt").exists()


def test_every_format_has_a_suffix_and_a_media_type_that_write_agrees_with() -> None:
    assert export.FORMATS == (
        "json", "csv", "md", "srt", "vtt", "fountain", "shots-csv", "shots-jsonl",
    )  # fmt: skip
    assert set(export.SUFFIX) == set(export.MEDIA) == set(export.FORMATS)
    for fmt in export.FORMATS:
        assert export.format_of(f"file{export.SUFFIX[fmt]}") == fmt
    assert export.MEDIA["vtt"] == "text/vtt" and export.MEDIA["csv"] == "text/csv"
