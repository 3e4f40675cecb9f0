"""summary.csv holds ideas people typed: a formula among them is neutralised (OWASP CSV
injection), and the numeric columns stay numbers."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from conftest import FAST, bulk_folder, fast_policy

from storygen import SimulatedBackend
from storygen.bulk.folder import BulkDir, SummaryLine
from storygen.bulk.live import run_bulk

PAYLOAD = '=HYPERLINK("http://x","y")'


def _summary(bulk: BulkDir) -> list[dict[str, str]]:
    with open(bulk.path / "summary.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _bulk(tmp_path: Path) -> BulkDir:
    text = 'idea,duration_s\n"=HYPERLINK(""http://x"",""y"")",16\n@SUM(1),9000\nA fox,16\n'
    return bulk_folder(tmp_path, text)


def test_summary_csv_neutralises_formula_ideas_and_keeps_numbers(tmp_path: Path) -> None:
    bulk = _bulk(tmp_path)
    run_bulk(bulk, SimulatedBackend(time_scale=FAST), max_in_flight=4, policy=fast_policy())
    table = _summary(bulk)
    assert [(r["row"], r["status"]) for r in table] == [
        ("2", "finished"),
        ("3", "rejected"),
        ("4", "finished"),
    ]
    assert [r["idea"] for r in table] == ["'" + PAYLOAD, "'@SUM(1)", "A fox"]
    assert bulk.entries[0].idea == PAYLOAD  # the run itself keeps the idea as typed
    finished = table[0]
    assert int(finished["scenes"]) == 2 and int(finished["prompt_tokens"]) > 0
    assert float(finished["wall_time_s"]) > 0


def test_a_negative_number_in_summary_csv_stays_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk = _bulk(tmp_path)
    lines = bulk.summary()
    shifted = [dataclasses.replace(line, wall_time_s=-0.25, cost_usd=-1.5) for line in lines]

    def summary(self: BulkDir) -> list[SummaryLine]:
        return shifted

    monkeypatch.setattr(BulkDir, "summary", summary)
    bulk.write_summary()
    table = _summary(bulk)
    assert {r["wall_time_s"] for r in table} == {"-0.25"}
    assert {r["cost_usd"] for r in table} == {"-1.5"}
    assert table[0]["idea"] == "'" + PAYLOAD
