"""What the download buttons hand out: the files' contents, not only their labels.

The buttons on the Generate, Runs and Compare pages are drawn from ``script_files`` and
``comparison_files``; these tests open the files those return as a user's program would.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _dashboard import open_app, poll
from conftest import FAST
from streamlit.runtime.media_file_manager import MediaFileManager

from storygen import RunStore, Script, ScriptRequest, SimulatedBackend, export, generate
from storygen.analysis.charts import ESTIMATED_NOTE, comparison_figures
from storygen.analysis.frames import batch_frame, scenes_of, summary_frame
from storygen.core.labels import labels_for
from ui.results import Download, comparison_files, script_files

IDEA = 'A "fox" & a <hound> open a bakery, à Paris'
BASE = ScriptRequest(idea=IDEA, duration_s=96, seed=3)  # 12 scenes


def _text(file: Download) -> str:
    content = file.content()
    return content.decode("utf-8") if isinstance(content, bytes) else content


@pytest.fixture(scope="module")
def scripts() -> list[Script]:
    """One request written sequentially, in batches of 3 and outline-first by 4."""
    return [
        generate(
            BASE.model_copy(update={"strategy": strategy, "concurrency": size}),
            SimulatedBackend(time_scale=FAST),
        )
        for strategy, size in (("sequential", 1), ("batched", 3), ("outline", 4))
    ]


# --- a script's files -----------------------------------------------------------------


def test_script_files_are_json_csv_and_markdown_named_after_the_title(
    scripts: list[Script],
) -> None:
    script = scripts[2]
    files = script_files(script.model_copy(update={"title": "The Fox's Bakery: Part 1!"}))
    assert [(f.label, f.file_name, f.mime) for f in files] == [
        ("Download JSON", "the-fox-s-bakery-part-1.json", "application/json"),
        ("Download CSV", "the-fox-s-bakery-part-1.csv", "text/csv"),
        ("Download Markdown", "the-fox-s-bakery-part-1.md", "text/markdown"),
    ]


def test_the_json_download_loads_back_into_the_same_script(scripts: list[Script]) -> None:
    script = scripts[2]
    (json_file,) = [f for f in script_files(script) if f.file_name.endswith(".json")]
    assert export.from_json(_text(json_file)) == script


def test_the_csv_download_has_a_row_per_scene_with_its_fields(scripts: list[Script]) -> None:
    script = scripts[1]
    (csv_file,) = [f for f in script_files(script) if f.file_name.endswith(".csv")]
    text = _text(csv_file)
    assert text.startswith("\ufeff")  # Excel opens it as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert [int(r["index"]) for r in rows] == list(range(1, 13))
    for row, scene in zip(rows, script.scenes, strict=True):
        assert row["title"] == scene.title
        assert row["narration"] == scene.narration
        assert row["summary"] == scene.summary
        assert row["location"] == scene.location and row["camera"] == scene.camera


def test_the_markdown_download_is_the_screenplay(scripts: list[Script]) -> None:
    script = scripts[2]
    (md_file,) = [f for f in script_files(script) if f.file_name.endswith(".md")]
    md = _text(md_file)
    assert md.startswith(f"# {script.title}\n")
    assert script.outline is not None and f"*{script.outline.logline}*" in md
    headings = [line for line in md.splitlines() if line.startswith("## Scene ")]
    assert headings == [
        f"## Scene {s.index}: {s.title} ({s.duration_s:g} s)" for s in script.scenes
    ]


# --- a comparison's files -------------------------------------------------------------


def _comparison(scripts: list[Script], baseline: str = "measured") -> dict[str, Download]:
    labels = labels_for(scripts)
    scenes = scenes_of(scripts, labels)
    batches = batch_frame(scenes)
    summary = summary_frame(scripts, labels, baseline=baseline)  # type: ignore[arg-type]
    figures = comparison_figures(scenes, batches, summary)
    return {f.label: f for f in comparison_files(summary, batches, scenes, figures, BASE)}


def test_comparison_files_are_named_and_typed(scripts: list[Script]) -> None:
    files = _comparison(scripts)
    assert [(f.label, f.file_name, f.mime) for f in files.values()] == [
        ("Results CSV", "comparison.csv", "text/csv"),
        ("Scene timings CSV", "comparison-scenes.csv", "text/csv"),
        ("Results JSON", "comparison.json", "application/json"),
        ("HTML report", "comparison-report.html", "text/html"),
    ]


def test_the_results_csv_has_a_row_per_configuration_with_its_numbers(
    scripts: list[Script],
) -> None:
    rows = list(csv.DictReader(io.StringIO(_text(_comparison(scripts)["Results CSV"]))))
    assert [r["config"] for r in rows] == ["sequential", "batched(3)", "outline(4)"]
    sequential_wall = scripts[0].meta.wall_time_s
    for row, script in zip(rows, scripts, strict=True):
        meta = script.meta
        assert row["strategy"] == script.request.strategy
        assert int(row["concurrency"]) == script.request.concurrency
        assert int(row["scenes"]) == 12
        assert float(row["wall_time_s"]) == pytest.approx(meta.wall_time_s)
        assert float(row["speedup"]) == pytest.approx(sequential_wall / meta.wall_time_s)
        assert row["baseline"] == "measured"
        tokens = meta.prompt_tokens + meta.completion_tokens
        assert int(row["total_tokens"]) == tokens > 0
        assert row["cost_usd"] == ""  # the simulated model has no price, not a price of 0
    assert float(rows[0]["speedup"]) == pytest.approx(1.0)


def test_the_scene_timings_csv_holds_every_call_of_every_run(scripts: list[Script]) -> None:
    table = pd.read_csv(io.StringIO(_text(_comparison(scripts)["Scene timings CSV"])))
    assert len(table) == 3 * 12 + 1  # and the outline call
    for label, script in zip(["sequential", "batched(3)", "outline(4)"], scripts, strict=True):
        mine = table[(table["config"] == label) & (table["kind"] == "scene")]
        assert list(mine["scene"]) == list(range(1, 13))
        for (_, row), timing in zip(mine.iterrows(), script.meta.timeline, strict=True):
            assert row["start_s"] == pytest.approx(timing.start_s)
            assert row["end_s"] == pytest.approx(timing.end_s)
            assert row["service_s"] == pytest.approx(timing.service_s)
            assert row["attempts"] == timing.attempts
            assert row["context_lag"] == timing.context_lag
    (outline,) = table[table["kind"] == "outline"].itertuples()
    meta = scripts[2].meta
    assert outline.config == "outline(4)"
    assert (outline.start_s, outline.end_s) == pytest.approx(
        (meta.outline_start_s, meta.outline_end_s)
    )


def test_the_results_json_holds_summary_batches_and_scenes(scripts: list[Script]) -> None:
    data = json.loads(_text(_comparison(scripts)["Results JSON"]))
    assert set(data) == {"summary", "batches", "scenes"}
    assert [r["config"] for r in data["summary"]] == ["sequential", "batched(3)", "outline(4)"]
    for row, script in zip(data["summary"], scripts, strict=True):
        assert row["wall_time_s"] == pytest.approx(script.meta.wall_time_s)
    assert len(data["scenes"]) == 3 * 12 + 1
    # batches by hand: batched(3) has 4 of 3 scenes, outline(4) 3 of 4; sequential has none
    batches = [(b["config"], b["batch"], b["scenes"]) for b in data["batches"]]
    assert sorted(batches) == sorted(
        [("batched(3)", g, 3) for g in range(1, 5)] + [("outline(4)", g, 4) for g in range(1, 4)]
    )
    for b in data["batches"]:
        script = scripts[1] if b["config"] == "batched(3)" else scripts[2]
        group = [t for t in script.meta.timeline if t.group == b["batch"]]
        assert b["start_s"] == pytest.approx(min(t.start_s for t in group))
        assert b["end_s"] == pytest.approx(max(t.end_s for t in group))


class _Report(HTMLParser):
    """The parts of the report a reader sees: title, headings, table cells, chart divs."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.h1 = ""
        self.sub = ""
        self.rows: list[list[str]] = []
        self.chart_ids: list[str] = []
        self.notes: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
            self._in = "cell"
        elif tag == "div" and (a.get("id") or "").startswith("chart-"):
            self.chart_ids.append(a["id"] or "")
        elif tag in ("title", "h1"):
            self._in = tag
        elif tag == "p":
            self._in = {"sub": "sub", "note": "note"}.get(a.get("class") or "")
            if self._in == "note":
                self.notes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "title", "h1", "p"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "cell":
            self.rows[-1][-1] += data
        elif self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data
        elif self._in == "sub":
            self.sub += data
        elif self._in == "note":
            self.notes[-1] += data


@pytest.mark.parametrize("baseline", ["measured", "estimated"])
def test_the_html_report_shows_the_summary_and_all_five_charts_offline(
    scripts: list[Script], baseline: str
) -> None:
    html = _text(_comparison(scripts, baseline)["HTML report"])
    assert html.startswith("<!DOCTYPE html>")
    page = _Report()
    page.feed(html)
    assert page.title == page.h1 == "storygen: batch sizes compared"
    assert IDEA in page.sub and "12 scenes" in page.sub and "seed 3" in page.sub
    assert "<hound>" not in html  # the idea is escaped, not markup
    header, *rows = page.rows
    assert header[:3] == ["Configuration", "Wall time (s)", "Speedup"]
    assert [r[0] for r in rows] == ["sequential", "batched(3)", "outline(4)"]
    for row, script in zip(rows, scripts, strict=True):
        assert float(row[1]) == pytest.approx(script.meta.wall_time_s, abs=0.0006)
    assert sorted(page.chart_ids) == sorted(
        [
            "chart-timeline",
            "chart-batch_time",
            "chart-speedup",
            "chart-tradeoff",
            "chart-continuity",
        ]
    )
    assert html.count("Plotly.newPlot(") == 5
    # plotly.js itself is inlined, once, so the file works without a network
    assert html.count("* plotly.js v") == 1 and "<script src=" not in html
    if baseline == "estimated":
        assert page.notes == [f"Speedups use the {ESTIMATED_NOTE}."]
        assert all(r[2].endswith("x (est.)") for r in rows)
    else:
        assert page.notes == []
        assert rows[0][2] == "1.00x"


# --- the pages hand out exactly these files -------------------------------------------


class ServedFiles:
    """Records what the pages give Streamlit's media file manager to serve, by file name,
    while the real manager still stores it (a spy: it observes, it does not answer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files: dict[str, tuple[str | None, bytes]] = {}
        self.deferred: dict[str, tuple[str | None, Callable[[], object]]] = {}
        real_add, real_deferred = MediaFileManager.add, MediaFileManager.add_deferred
        served = self

        def add(self: MediaFileManager, data: bytes, mimetype: str, *a: Any, **kw: Any) -> str:
            served.files[kw.get("file_name") or ""] = (mimetype, data)
            return real_add(self, data, mimetype, *a, **kw)

        def add_deferred(
            self: MediaFileManager, call: Any, mimetype: Any, *a: Any, **kw: Any
        ) -> str:
            served.deferred[kw.get("file_name") or ""] = (mimetype, call)
            return real_deferred(self, call, mimetype, *a, **kw)

        monkeypatch.setattr(MediaFileManager, "add", add)
        monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)

    def text(self, name: str) -> str:
        if name in self.files:
            return self.files[name][1].decode("utf-8")
        data = self.deferred[name][1]()
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)


def test_the_runs_page_serves_the_opened_runs_script_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "runs")
    script = generate(
        BASE.model_copy(update={"duration_s": 40}), SimulatedBackend(time_scale=FAST), store=store
    )
    served = ServedFiles(monkeypatch)
    at = open_app(monkeypatch, store.root, page="pages/runs.py")
    at.selectbox(key="runs_open").set_value(script.meta.run_id).run()
    assert not at.exception
    name = script_files(script)[0].file_name.removesuffix(".json")
    assert export.from_json(served.text(f"{name}.json")) == script
    assert served.files[f"{name}.json"][0] == "application/json"
    assert served.text(f"{name}.csv") == export.to_csv(script)
    assert served.text(f"{name}.md") == export.to_markdown(script)


def test_the_compare_page_serves_the_comparisons_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served = ServedFiles(monkeypatch)
    at = open_app(monkeypatch, tmp_path / "runs", page="pages/compare.py")
    at.number_input(key="cmp_duration").set_value(48).run()  # 6 scenes
    at.multiselect(key="cmp_batched").set_value([3]).run()
    at.button[0].click().run()
    poll(at, lambda at: "comparison.json" in served.files)
    results = list(csv.DictReader(io.StringIO(served.text("comparison.csv"))))
    assert [r["config"] for r in results] == ["sequential", "batched(3)"]
    assert [int(r["scenes"]) for r in results] == [6, 6]
    timings = pd.read_csv(io.StringIO(served.text("comparison-scenes.csv")))
    assert sorted(timings["scene"]) == sorted([*range(1, 7)] * 2)
    data = json.loads(served.text("comparison.json"))
    assert [r["config"] for r in data["summary"]] == ["sequential", "batched(3)"]
    assert [(b["batch"], b["scenes"]) for b in data["batches"]] == [(1, 3), (2, 3)]
    assert served.deferred["comparison-report.html"][0] == "text/html"
    page = _Report()
    page.feed(served.text("comparison-report.html"))
    assert [r[0] for r in page.rows[1:]] == ["sequential", "batched(3)"]
    assert len(page.chart_ids) == 5
