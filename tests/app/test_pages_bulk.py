"""The Bulk page: a file of ideas checked row by row before anything runs, then every script
written in a child process that a reload, Cancel and Resume do not lose (AppTest, real runs on
the simulated backend at a fast time scale)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import signal
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from _dashboard import open_app, poll, shown_after
from streamlit.testing.v1 import AppTest
from test_downloads import ServedFiles

from storygen.bulk.folder import SUMMARY_COLUMNS, BulkDir
from storygen.bulk.rows import TEMPLATE, Defaults, parse_upload
from storygen.jobs.bulk import bulk_folders
from storygen.store import RunStore

BULK = "pages/bulk.py"
ROOT = Path(__file__).resolve().parents[2]
IDEAS = (
    "idea,duration_s,strategy,concurrency\n"
    "A fox opens a bakery,80,windowed,5\n"  # row 2: 10 scenes
    "A heist in a lighthouse,5,,\n"  # row 3: too short
    "A robot learns to paint,40,zigzag,\n"  # row 4: no such strategy
    "A whale sings to a ship,40,batched,2\n"  # row 5: 5 scenes
)


def _page_module() -> ModuleType:
    """pages/bulk.py imported as a module: its helpers, without drawing the page."""
    spec = importlib.util.spec_from_file_location("bulk_page", ROOT / BULK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def _upload(at: AppTest, text: str, name: str = "ideas.csv") -> AppTest:
    at.file_uploader(key="bulk_file").set_value((name, text.encode(), "text/csv")).run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The table holding ``column``: "check" (validation) or "status" (progress per row)."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


def _folder(runs: Path) -> BulkDir:
    (path,) = bulk_folders(RunStore(runs))
    return BulkDir.open(path)


def _statuses(bulk: BulkDir) -> list[str]:
    return [line.status for line in bulk.summary() if line.status != "rejected"]


def test_every_row_is_checked_with_its_number_and_reason_before_anything_runs(
    monkeypatch, runs
) -> None:
    """Rows keep their spreadsheet numbers; a rejected row says why, a valid one what it
    will run; and nothing is written before Run."""
    at = _upload(open_app(monkeypatch, runs, page=BULK), IDEAS)
    table = _table(at, "check")
    assert list(table["row"]) == [2, 3, 4, 5]
    assert list(table["strategy"][[0, 3]]) == ["windowed(5)", "batched(2)"]
    assert list(table["scenes"][[0, 3]]) == [10, 5]
    check = list(table["check"])
    assert check[0] == check[3] == "OK"
    assert check[1].startswith("duration_s:") and "8 to 7200" in check[1]
    assert check[2].startswith("strategy:") and "zigzag" in check[2]
    assert "4 rows**: 2 ready to run, 2 rejected" in at.markdown[-1].value
    (listed,) = at.error
    assert "- row 3: duration_s:" in listed.value and "- row 4: strategy:" in listed.value
    assert not at.button(key="bulk_run").disabled
    assert bulk_folders(RunStore(runs)) == []


def test_empty_cells_take_the_settings_and_jsonl_is_read_by_its_suffix(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs, page=BULK)
    at.selectbox(key="bulk_strategy").set_value("batched")
    at.text_input(key="bulk_concurrency").set_value("4")
    at.number_input(key="bulk_duration").set_value(96).run()
    lines = '{"idea": "A fox opens a bakery"}\n{"idea": "A heist", "duration_s": 16}\n'
    table = _table(_upload(at, lines, "ideas.jsonl"), "check")
    assert list(table["row"]) == [1, 2]
    assert list(table["strategy"]) == ["batched(4)", "batched(4)"]
    assert list(table["scenes"]) == [12, 2]


@pytest.mark.parametrize(
    ("text", "name", "says"),
    [
        ("idea,duration_s\nA heist,5\n,\n", "ideas.csv", None),  # only a rejected row
        ("idea\n", "ideas.csv", "no rows"),
        ("idea\nA caf\xe9 at night\n", "ideas.csv", "not UTF-8"),
    ],
)
def test_run_stays_disabled_without_a_valid_row(monkeypatch, runs, text, name, says) -> None:
    at = open_app(monkeypatch, runs, page=BULK)
    assert at.button(key="bulk_run").disabled  # no file yet
    data = text.encode("latin-1") if "\xe9" in text else text.encode()
    at.file_uploader(key="bulk_file").set_value((name, data, "text/csv")).run()
    assert not at.exception
    assert at.button(key="bulk_run").disabled
    if says is not None:  # the file's problem, below the uploader
        message = shown_after(at.main, "Ideas (CSV or JSONL)")
        assert message.type == "error" and says in message.value


@pytest.mark.parametrize(
    ("key", "value", "label", "says"),
    [
        ("bulk_max_in_flight", 0, "Max calls in flight", "1 to 10000"),
        ("bulk_duration", 5, "Duration (seconds)", "8 to 7200"),
        ("bulk_concurrency", "many", "Batch size / window", "'adaptive'"),
        ("bulk_language", "English!", "Language", "ISO 639"),
    ],
)
def test_a_bad_setting_is_named_below_its_field_and_nothing_can_run(
    monkeypatch, runs, key, value, label, says
) -> None:
    at = _upload(open_app(monkeypatch, runs, page=BULK), TEMPLATE)
    widget = at.number_input(key=key) if key.endswith(("flight", "duration")) else None
    (widget or at.text_input(key=key)).set_value(value).run()
    assert not at.exception
    message = shown_after(at.main, label)
    assert message is not None and message.type == "error", message
    assert says in message.value
    assert at.button(key="bulk_run").disabled


def test_a_run_writes_every_script_and_the_downloads_hold_them_all(monkeypatch, runs) -> None:
    """The zip holds one export per valid row in the chosen format, and summary.csv one
    line per input row, rejected rows included."""
    served = ServedFiles(monkeypatch)
    at = _upload(open_app(monkeypatch, runs, page=BULK), IDEAS)
    at.selectbox(key="bulk_format").set_value("csv").run()
    at.button(key="bulk_run").click().run()
    poll(at, lambda at: len(at.success) > 0)
    assert at.success[0].value == "2 of 2 scripts finished."
    table = _table(at, "status")
    assert list(table["row"]) == [2, 3, 4, 5]
    assert list(table["status"]) == ["finished", "rejected", "rejected", "finished"]
    assert list(table["scenes"][[0, 3]]) == ["10/10", "5/5"]
    assert [m.value for m in at.metric][:2] == ["15/15", "2/2"]

    bulk = _folder(runs)
    zipped = served.deferred[f"bulk-{bulk.path.name}.zip"][1]()
    assert isinstance(zipped, bytes)
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert sorted(zf.namelist()) == [
            "scripts/row-0002.csv",
            "scripts/row-0005.csv",
            "summary.csv",
        ]
        scenes = {
            name: len(list(csv.DictReader(io.StringIO(zf.read(name).decode()))))
            for name in ("scripts/row-0002.csv", "scripts/row-0005.csv")
        }
        assert scenes == {"scripts/row-0002.csv": 10, "scripts/row-0005.csv": 5}
        summary = list(csv.DictReader(io.StringIO(zf.read("summary.csv").decode())))
    assert list(summary[0]) == list(SUMMARY_COLUMNS)
    assert [(r["row"], r["status"], r["scenes"]) for r in summary] == [
        ("2", "finished", "10"),
        ("3", "rejected", "0"),
        ("4", "rejected", "0"),
        ("5", "finished", "5"),
    ]
    alone = served.deferred["summary.csv"][1]()
    assert isinstance(alone, bytes)
    assert list(csv.DictReader(io.StringIO(alone.decode()))) == summary


def _checkpointed(bulk: BulkDir) -> list[list[int]]:
    """Each run's checkpoint.jsonl, scene indexes line by line, repeats included."""
    out = []
    for entry in bulk.entries:
        text = (bulk.run(entry).path / "checkpoint.jsonl").read_text(encoding="utf-8")
        out.append([json.loads(line)["scene"]["index"] for line in text.splitlines()])
    return out


def test_cancel_from_a_reloaded_page_keeps_scenes_and_resume_finishes_every_script(
    monkeypatch, runs
) -> None:
    """A reload (a fresh session) still finds the running job: its rows, and Cancel. Cancel
    leaves every run "interrupted" with its scenes; Resume writes only what is missing."""
    at = _upload(open_app(monkeypatch, runs, time_scale=0.015, page=BULK), IDEAS)
    # ~0.12 s a call, one at a time: row 5 waits for row 2, so Cancel finds it not yet started
    at.number_input(key="bulk_max_in_flight").set_value(1).run()
    at.button(key="bulk_run").click().run()
    bulk = _folder(runs)

    reloaded = open_app(monkeypatch, runs, page=BULK)
    assert reloaded.selectbox(key="bulk_open").value == str(bulk.path)
    assert reloaded.button(key="bulk_cancel").label == "Cancel"
    assert list(_table(reloaded, "status")["row"]) == [2, 3, 4, 5]
    assert [m.label for m in reloaded.metric] == ["Scenes", "Scripts", "Calls in flight"]
    poll(reloaded, lambda at: at.metric[2].value == "1")  # the shared budget, in use
    poll(reloaded, lambda _: sum(line.scenes for line in bulk.summary()) >= 1)
    reloaded.button(key="bulk_cancel").click().run()
    poll(reloaded, lambda at: len(at.warning) > 0)
    assert _statuses(bulk) == ["interrupted", "interrupted"]
    kept = sum(line.scenes for line in bulk.summary())
    assert 1 <= kept < 10  # all in row 2
    assert reloaded.warning[0].value.startswith(f"Cancelled: {kept} scenes kept")
    assert reloaded.metric[0].value == f"{kept}/15"

    reloaded.button(key="bulk_resume").click().run()
    poll(reloaded, lambda at: len(at.success) > 0)
    assert _statuses(bulk) == ["finished", "finished"]
    assert [sorted(c) for c in _checkpointed(bulk)] == [list(range(1, 11)), list(range(1, 6))]
    assert "bulk_resume" not in [b.key for b in reloaded.button]
    assert sorted(p.name for p in (bulk.path / "scripts").iterdir()) == [
        "row-0002.json",
        "row-0005.json",
    ]


def test_a_bulk_child_that_dies_fails_its_job_and_the_page_offers_resume(monkeypatch, runs) -> None:
    """A killed child (kill -9, out of memory) must not leave the page polling forever: the
    job fails with the reason, and the runs on disk resume."""
    at = _upload(open_app(monkeypatch, runs, time_scale=0.015, page=BULK), IDEAS)
    at.number_input(key="bulk_max_in_flight").set_value(1).run()  # ~0.12 s a call, 1 at once
    at.button(key="bulk_run").click().run()
    bulk = _folder(runs)
    first = bulk.run(bulk.entries[0])
    poll(at, lambda _: len(first.load_checkpoint()) >= 1)
    # the child holds the run's lock, and the lock file names it: "process PID on HOST ..."
    child = int((first.path / ".lock").read_text(encoding="utf-8").split()[1])
    os.kill(child, signal.SIGKILL)
    poll(at, lambda at: "bulk_resume" in [b.key for b in at.button])
    assert "the bulk run stopped before it finished (exit -9" in at.error[-1].value
    assert at.button(key="bulk_resume").label == "Resume"
    at.button(key="bulk_resume").click().run()
    poll(at, lambda at: len(at.success) > 0)
    assert _statuses(bulk) == ["finished", "finished"]


def test_the_helpers_read_jsonl_by_suffix_and_name_a_bad_setting() -> None:
    """The page's logic without a browser: what the upload holds, which setting is wrong."""
    page = _page_module()
    rows = parse_upload("ideas.NDJSON", b'{"idea": "A fox"}\n', Defaults())  # as the page does
    assert [r.row for r in rows.valid] == [1]
    assert page.check_in_flight(0).field == "max_in_flight"
    assert page.check_in_flight(10_000) is None
    assert page.check_defaults(Defaults(strategy="zigzag")).field == "strategy"
    assert page.check_defaults(Defaults()) is None
