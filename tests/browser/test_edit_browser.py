"""Editing in a real browser: a person writes a short script, types a new narration into the
scene table and saves it, regenerates one scene with a note, and downloads every hand-off
format, each opened as the tool it is for would open it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import srt
import webvtt
from screenplain.parsers.fountain import parse
from screenplain.types import Slug

from browser.test_dashboard_browser import DOCS, _open, app_url, browser  # noqa: F401 - fixtures

NEW_NARRATION = "At dawn the fox pulls the first loaves from the oven."
NARRATION_COLUMN = 8  # scene, stale, duration_s, title, findings, location, characters, camera
HEADER_PX, ROW_PX = 35, 35  # the grid's default header and row heights


def _download(page: Any, label: str) -> str:
    with page.expect_download() as download:
        page.get_by_role("button", name=label, exact=True).click()
    return Path(download.value.path()).read_text(encoding="utf-8")


def _type_into_cell(page: Any, row: int, column: int, text: str) -> None:
    """Click the table's first cell, walk to (row, column) with the arrow keys, open the cell
    with Enter, type, and commit with Enter: what a person does on the canvas grid. Each step
    waits for the grid to say which cell is selected (its accessible table mirrors it)."""
    from playwright.sync_api import expect

    grid = page.locator("[data-testid='stDataFrame']").first
    selected = grid.locator("td[aria-selected='true']")
    canvas = grid.locator("[data-testid='data-grid-canvas']")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + HEADER_PX + ROW_PX / 2)
    expect(selected).to_have_id("glide-cell-0-0")
    for c in range(1, column + 1):
        page.keyboard.press("ArrowRight")
        expect(selected).to_have_id(f"glide-cell-{c}-0")
    for r in range(1, row + 1):
        page.keyboard.press("ArrowDown")
        expect(selected).to_have_id(f"glide-cell-{column}-{r}")
    page.keyboard.press("Enter")
    cell = page.locator("textarea.gdg-input")
    cell.fill(text)
    cell.press("Enter")


def _shots(page: Any) -> list[dict[str, Any]]:
    text = _download(page, "Shot list JSONL")
    return [json.loads(line) for line in text.splitlines() if line]


def test_edit_save_regenerate_and_download_every_format(browser, app_url) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = _open(browser, app_url, height=1600)
    duration = page.get_by_role("spinbutton", name="Duration (seconds)")
    duration.fill("80")  # 10 scenes
    duration.press("Enter")
    page.get_by_role("button", name="Write the script").click()
    expect(page.get_by_text("10 scenes in", exact=False)).to_be_visible(timeout=60_000)

    # a new narration for scene 1, saved
    _type_into_cell(page, 0, NARRATION_COLUMN, NEW_NARRATION)
    expect(page.get_by_text("Unsaved: scene 1 (narration).")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved scene 1.")).to_be_visible()
    before = _shots(page)
    assert before[0]["narration"] == NEW_NARRATION

    # scene 2 written again, with a note
    page.get_by_role("combobox", name="Scenes to write again").click()
    page.get_by_role("option", name=re.compile(r"^2 · ")).click()
    page.keyboard.press("Escape")
    note = page.get_by_role("textbox", name="Note for the model")
    note.fill("make it night")
    note.press("Enter")
    page.get_by_role("button", name="Regenerate").click()
    expect(page.get_by_text(re.compile(r"^Regenerated scene 2\."))).to_be_visible()
    expect(note).to_have_value("")  # the picks and the note start afresh
    expect(page.get_by_role("button", name=re.compile(r"^2 · "))).to_have_count(0)
    page.mouse.move(0, 0)
    page.screenshot(path=str(DOCS / "edit.png"))

    after = _shots(page)
    assert [s["index"] for s in after] == list(range(1, 11))
    changed = [a["index"] for a, b in zip(after, before, strict=True) if a != b]
    assert changed == [2]
    assert after[0]["narration"] == NEW_NARRATION  # the edit is still there

    # subtitles: timed by the clips, the edited narration first
    cues = list(srt.parse(_download(page, "Subtitles SRT")))
    assert cues and cues[0].start.total_seconds() == 0
    assert cues[-1].end.total_seconds() <= 80
    first_clip = [c for c in cues if c.end.total_seconds() <= after[1]["start_s"]]
    assert " ".join(" ".join(c.content.split()) for c in first_clip) == NEW_NARRATION
    captions = webvtt.from_string(_download(page, "Subtitles WebVTT")).captions
    assert [c.text for c in captions] == [c.content for c in cues]

    # the screenplay: a scene heading a scene
    fountain = parse(io.StringIO(_download(page, "Screenplay Fountain")))
    assert sum(isinstance(p, Slug) for p in fountain) == 10

    # the shot list as a spreadsheet reads it
    text = _download(page, "Shot list CSV").removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["index"]) for r in rows] == list(range(1, 11))
    assert [r["narration"] for r in rows] == [s["narration"] for s in after]
    page.close()
