"""Exports round-trip and open cleanly."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from storygen import InvalidRequestError, ScriptRequest, SimulatedBackend, export, generate


@pytest.fixture(scope="module")
def script():  # type: ignore[no-untyped-def]
    request = ScriptRequest(
        idea='A "quoted", comma-laden idea', duration_s=60, strategy="outline", concurrency=4
    )
    return generate(request, SimulatedBackend(time_scale=0))


def test_json_round_trip_is_lossless(script) -> None:  # type: ignore[no-untyped-def]
    again = export.from_json(export.to_json(script))
    assert again == script
    assert again.outline is not None and again.meta.timeline == script.meta.timeline


def test_csv_has_one_row_per_scene_with_readable_lists(script) -> None:  # type: ignore[no-untyped-def]
    text = export.to_csv(script)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == len(script.scenes) == 8
    for row, scene in zip(rows, script.scenes, strict=True):
        assert int(row["index"]) == scene.index
        assert row["characters"] == ", ".join(scene.characters)
        assert row["visual_prompt"] == scene.visual_prompt
        assert row["dialogues"].count("\n") == max(0, len(scene.dialogues) - 1)


def test_markdown_is_a_screenplay(script) -> None:  # type: ignore[no-untyped-def]
    md = export.to_markdown(script)
    assert md.startswith(f"# {script.title}")
    assert md.count("## Scene ") == len(script.scenes)
    assert "## Characters" in md


def test_write_picks_format_from_suffix(script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = export.write(script, tmp_path / "x.json")
    assert export.from_json(path.read_text()) == script
    with pytest.raises(InvalidRequestError, match="allowed: json, csv, md"):
        export.write(script, tmp_path / "x.pdf")
