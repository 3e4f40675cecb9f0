"""Issue 21's first hour with `bulk`: what is wrong with the input is said of the right
thing (the folder, the header, the flag), counts read as English, and a simulated run's
summary.csv agrees with `generate` that it cost nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from storygen.bulk.folder import BulkDir
from storygen.bulk.rows import parse_rows
from storygen.cli.main import main
from storygen.core.errors import InvalidRequestError
from storygen.core.pricing import estimate_cost

FAST = "0.002"


def bulk(file: Path, tmp_path: Path, *flags: str) -> int:
    return main(["bulk", str(file), "--out-dir", str(tmp_path / "out"),
                 "--runs-dir", str(tmp_path / "runs"), "--time-scale", FAST, "--no-progress",
                 *flags])  # fmt: skip


def test_a_folder_given_as_the_ideas_file_is_called_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bulk(tmp_path, tmp_path) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path} is a folder: give the CSV or JSONL file of ideas in it\n"


def test_a_header_without_an_idea_column_is_said_of_the_header() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_rows("idee,duration_s\nA cat,64\nA dog,64\n", "csv")
    said = str(info.value)
    assert said.startswith("the header (row 1) has no 'idea' column; it names 'idee', ")
    assert "('idee' for 'idea'?)" in said and "row 2" not in said
    assert info.value.field == "columns"


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="names the column 'idea' twice"):
        parse_rows("idea,Idea\nA cat,A dog\n", "csv")


def test_blank_lines_above_the_header_keep_rows_numbered_as_a_spreadsheet_shows_them() -> None:
    rows = parse_rows("\n\nidea,duration_s\nA cat,16\nA dog,9000\n", "csv")
    assert [r.row for r in rows.valid] == [4] and [r.row for r in rows.rejected] == [5]
    with pytest.raises(InvalidRequestError, match=r"the header \(row 3\)"):
        parse_rows("\n\nidee\nA cat\n", "csv")


def test_a_row_without_an_idea_says_the_idea_is_missing() -> None:
    rows = parse_rows('{"duration_s": 16}\n{"idea": "A cat"}\n', "jsonl")
    (bad,) = rows.rejected
    assert bad.row == 1 and bad.error.startswith("idea: missing")


def test_a_bad_flag_is_the_flags_fault_not_every_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text("idea\nA cat\nA dog\n", encoding="utf-8")
    assert bulk(ideas, tmp_path, "--duration", "3") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --duration: Input should be greater than or equal to 8")
    assert "row" not in err and not (tmp_path / "out").exists()
    assert bulk(ideas, tmp_path, "--window", "0") == 2
    assert capsys.readouterr().err.startswith("error: --window: ")
    assert bulk(ideas, tmp_path, "--attempts", "0") == 2
    assert capsys.readouterr().err.startswith("error: --attempts: ")


def test_one_script_is_one_script_and_a_simulated_cost_is_not_a_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ideas = tmp_path / "ideas.jsonl"
    ideas.write_text('{"idea": "A cat", "duration_s": 16, "language": "xx"}\n', encoding="utf-8")
    assert bulk(ideas, tmp_path, "--price-as", "gpt-4o") == 0
    out, err = capsys.readouterr()
    assert "1 script to write (0 rows rejected)" in out
    assert "1 script finished, 0 not finished, 0 rows rejected" in out
    assert "note: the simulated backend writes en, es, fr, de only: row 1: language xx" in err
    with open(tmp_path / "out" / "summary.csv", encoding="utf-8", newline="") as f:
        (row,) = csv.DictReader(f)
    # as `generate` says "cost n/a (simulated); on gpt-4o these tokens would cost $X"
    assert row["cost_usd"] == "" and row["priced_as"] == "gpt-4o"
    would = estimate_cost("gpt-4o", int(row["prompt_tokens"]), int(row["completion_tokens"]))
    assert would is not None and float(row["would_cost_usd"]) == pytest.approx(would, abs=1e-6)
    assert f"cost n/a (simulated); on gpt-4o these tokens would cost ${would:.4f}" in out
    line = BulkDir.open(tmp_path / "out").summary()[0]
    assert line.cost_usd is None and line.would_cost_usd == pytest.approx(would, abs=1e-6)
