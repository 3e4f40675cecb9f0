"""`generate --out FILE` writes the hand-off formats by suffix; an unknown suffix is refused
with every allowed one named."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import srt
import webvtt

from storygen.cli.main import main


def _generate(tmp_path: Path, out: Path) -> int:
    return main(
        [
            "generate",
            "--idea",
            "A keeper finds a map",
            "--duration",
            "24",
            "--time-scale",
            "0",
            "--no-progress",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out",
            str(out),
        ]
    )


def _srt(text: str) -> int:
    return len(list(srt.parse(text)))


def _vtt(text: str) -> int:
    return len(webvtt.from_string(text).captions)


def _fountain(text: str) -> int:
    return text.count("NARRATOR (V.O.)")


def _shots_csv(text: str) -> int:
    return len(list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))))


def _shots_jsonl(text: str) -> int:
    return len([json.loads(line) for line in text.splitlines()])


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("x.srt", _srt),
        ("x.vtt", _vtt),
        ("x.fountain", _fountain),
        ("x.shots.csv", _shots_csv),
        ("x.jsonl", _shots_jsonl),
    ],
)
def test_generate_out_writes_each_format_by_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, count: object
) -> None:
    out = tmp_path / name
    assert _generate(tmp_path, out) == 0
    assert f"script: {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert callable(count) and count(text) >= 3  # 3 scenes of 8 s, each narrated


def test_an_unknown_suffix_is_refused_naming_every_allowed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _generate(tmp_path, tmp_path / "x.txt") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "unknown export format 'txt' for x.txt" in err[0]
    for suffix in (".json", ".csv", ".md", ".srt", ".vtt", ".fountain", ".shots.csv", ".jsonl"):
        assert suffix in err[0]
    assert not (tmp_path / "x.txt").exists()
