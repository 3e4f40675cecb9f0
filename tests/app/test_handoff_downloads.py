"""The hand-off downloads (subtitles, screenplay, shot list) on a saved run: named after the
script, typed for the browser, and holding the run as it is on disk after an edit."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import srt
import webvtt
from _dashboard import FAST, open_app

from storygen import RunStore, Script, ScriptRequest, SimulatedBackend, edit, export, generate
from ui.results import handoff_files, script_files

NEW_NARRATION = "The oven glows; the fox waits for the bread to rise."


@pytest.fixture
def run(tmp_path: Path) -> Path:
    store = RunStore(tmp_path / "runs")
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=80, concurrency=5, seed=4)
    generate(request, SimulatedBackend(time_scale=FAST), store=store)
    (info,) = store.list()
    return info.path


def _script(run: Path) -> Script:
    return Script.model_validate_json((run / "script.json").read_text("utf-8"))


def test_every_export_format_is_offered_with_its_mime_type_and_suffix(run) -> None:
    script = _script(run).model_copy(update={"title": "The Fox's Bakery"})
    files = script_files(script) + handoff_files(script)
    by_name = {f.file_name: f.mime for f in files}
    assert by_name == {
        f"the-fox-s-bakery{export.SUFFIX[fmt]}": export.MEDIA[fmt] for fmt in export.FORMATS
    }
    assert [f.label for f in handoff_files(script)] == [
        "Subtitles SRT",
        "Subtitles WebVTT",
        "Screenplay Fountain",
        "Shot list CSV",
        "Shot list JSONL",
    ]


def test_the_runs_page_offers_every_format_with_the_edited_text(monkeypatch, run) -> None:
    edit(run, scene=2, narration=NEW_NARRATION)
    at = open_app(monkeypatch, run.parent, page="pages/runs.py")
    at.selectbox(key="runs_open").set_value(run.name).run()
    assert not at.exception, at.exception
    labels = [d.label for d in at.download_button]
    assert labels[:8] == [
        "Download JSON",
        "Download CSV",
        "Download Markdown",
        "Subtitles SRT",
        "Subtitles WebVTT",
        "Screenplay Fountain",
        "Shot list CSV",
        "Shot list JSONL",
    ]
    files = {f.label: f.content() for f in handoff_files(_script(run))}
    assert isinstance(files["Subtitles SRT"], str)

    cues = list(srt.parse(str(files["Subtitles SRT"])))
    start = sum(s.duration_s for s in _script(run).scenes[:1])  # scene 2 starts after scene 1
    second = [c for c in cues if c.start.total_seconds() >= start - 1e-6]
    spoken = " ".join(" ".join(c.content.split()) for c in second)
    assert spoken.startswith(NEW_NARRATION)

    captions = webvtt.from_string(str(files["Subtitles WebVTT"])).captions
    assert len(captions) == len(cues)

    rows = list(csv.DictReader(io.StringIO(str(files["Shot list CSV"]).removeprefix("\ufeff"))))
    assert [r["narration"] for r in rows][1] == NEW_NARRATION
    lines = [json.loads(line) for line in str(files["Shot list JSONL"]).splitlines() if line]
    assert len(lines) == 10 and lines[1]["narration"] == NEW_NARRATION
