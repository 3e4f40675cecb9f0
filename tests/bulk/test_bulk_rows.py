"""A spreadsheet of ideas: each row checked on its own, named by the number a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from storygen.bulk.rows import TEMPLATE, Defaults, parse_rows, parse_upload, read_rows
from storygen.core.errors import InvalidRequestError


def test_rows_take_their_own_values_and_the_defaults_for_empty_cells() -> None:
    text = (
        "idea,duration_s,style,language,strategy,concurrency,seed\n"
        "A cat in space,40,noir,fr,windowed,3,7\n"
        "A dog at sea,,,,,,\n"
    )
    defaults = Defaults(duration_s=24, style="anime", strategy="batched", concurrency="4", seed=2)
    rows = parse_rows(text, "csv", defaults)
    assert rows.rejected == []
    first, second = (r.request for r in rows.valid)
    assert (first.duration_s, first.style, first.language) == (40, "noir", "fr")
    assert (first.strategy, first.concurrency, first.seed) == ("windowed", 3, 7)
    assert (second.duration_s, second.style, second.language) == (24, "anime", "en")
    assert (second.strategy, second.concurrency, second.seed) == ("batched", 4, 2)


def test_a_bad_row_is_named_by_its_spreadsheet_number_and_the_others_still_count() -> None:
    text = (
        "idea,duration_s,strategy,concurrency\n"  # row 1
        "Fine,16,,\n"  # row 2
        "\n"  # a blank line is skipped, but keeps the numbering
        "Too long,9999,,\n"  # row 4
        "Bad strategy,16,zigzag,\n"  # row 5
        "Bad window,16,windowed,lots\n"  # row 6
        ",16,,\n"  # row 7: no idea
        "Fine too,16,outline,adaptive\n"  # row 8
    )
    rows = parse_rows(text, "csv")
    assert [r.row for r in rows.valid] == [2, 8]
    errors = {r.row: r.error for r in rows.rejected}
    assert set(errors) == {4, 5, 6, 7}
    assert "duration_s" in errors[4] and "8 to 7200" in errors[4]
    assert "strategy" in errors[5] and "sequential, batched, windowed, outline" in errors[5]
    assert "concurrency" in errors[6] and "'adaptive'" in errors[6]
    assert "idea" in errors[7]
    assert rows.rejected[0].idea == "Too long"  # the summary can say which idea it was


def test_adaptive_concurrency_finds_the_window_up_to_the_most_allowed() -> None:
    rows = parse_rows("idea,concurrency\nA,adaptive\nB,6\n", "csv", Defaults(max_concurrency=12))
    adaptive, fixed = (r.request for r in rows.valid)
    assert adaptive.adaptive is not None and adaptive.concurrency == 12
    assert fixed.adaptive is None and fixed.concurrency == 6


def test_an_unknown_column_in_the_header_refuses_the_file_and_names_the_allowed_ones() -> None:
    # a typo in the header is wrong for every row: said of the header (row 1), not row 2
    with pytest.raises(InvalidRequestError) as info:
        parse_rows("idea,durations\nUses it,60\nLeaves it empty,\n", "csv")
    said = str(info.value)
    assert said.startswith("the header (row 1) names an unknown column 'durations'")
    assert "did you mean 'duration_s'?" in said and "row 2" not in said


def test_jsonl_rows_are_numbered_by_line_and_broken_lines_are_reported() -> None:
    text = '{"idea": "A", "duration_s": 16}\nnot json\n["a list"]\n{"idea": "B", "seed": "x"}\n'
    rows = parse_rows(text, "jsonl")
    assert [r.row for r in rows.valid] == [1]
    assert rows.valid[0].request.duration_s == 16
    errors = {r.row: r.error for r in rows.rejected}
    assert "not valid JSON" in errors[2]
    assert "JSON object" in errors[3]
    assert "seed" in errors[4] and "whole number" in errors[4]


def test_extra_cells_beyond_the_header_are_refused_not_dropped() -> None:
    rows = parse_rows("idea,duration_s\nA, 16, surprise\n", "csv")
    assert rows.valid == [] and "3 cells but the header names 2" in rows.rejected[0].error


def test_an_empty_file_is_bad_input_not_an_empty_run() -> None:
    with pytest.raises(InvalidRequestError, match="no rows"):
        parse_rows("idea\n", "csv")


def test_the_template_is_valid_and_a_file_is_read_by_its_suffix(tmp_path: Path) -> None:
    csv_file = tmp_path / "ideas.csv"
    csv_file.write_text(TEMPLATE, encoding="utf-8-sig")  # Excel's BOM is fine
    assert len(read_rows(csv_file).valid) == 3
    jsonl = tmp_path / "ideas.jsonl"
    jsonl.write_text('{"idea": "A"}\n', encoding="utf-8")
    assert read_rows(jsonl).valid[0].request.idea == "A"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("idea\nAbuela y el pan de ma\xf1ana\n".encode("latin-1"))
    with pytest.raises(InvalidRequestError, match="not UTF-8"):
        read_rows(latin)


def test_the_example_file_in_the_readme_is_the_template() -> None:
    """The README's bulk commands run on examples/ideas.csv; the app offers TEMPLATE."""
    example = Path(__file__).resolve().parents[2] / "examples" / "ideas.csv"
    assert example.read_text(encoding="utf-8") == TEMPLATE


def test_without_a_seed_each_row_draws_its_own_so_scripts_do_not_move_in_lockstep() -> None:
    rows = parse_rows("idea,seed\nA,\nB,\nC,7\n", "csv")
    assert [r.request.seed for r in rows.valid] == [2, 3, 7]
    one_seed = parse_rows("idea\nA\nB\n", "csv", Defaults(seed=5))
    assert [r.request.seed for r in one_seed.valid] == [5, 5]


def test_cells_are_trimmed_short_rows_are_fine_and_messages_read_cleanly() -> None:
    text = (
        "idea,style,strategy,concurrency\n"
        "  Padded idea  ,  noir  , sequential ,\n"  # spaces around cells, as editors leave
        "Short row\n"  # fewer cells than the header: the rest are empty
        "Bad,x,y,z,extra\n"  # more cells: refused, and the rows after it still count
        "After it,,,-3\n"
    )
    rows = parse_rows(text, "csv", Defaults(concurrency="adaptive"))
    padded, short = (r.request for r in rows.valid)
    assert (padded.idea, padded.style, padded.strategy) == ("Padded idea", "noir", "sequential")
    assert padded.adaptive is None  # sequential runs one call at a time: nothing to adapt
    assert short.idea == "Short row" and short.adaptive is not None
    errors = {r.row: r.error for r in rows.rejected}
    assert set(errors) == {4, 5}
    assert "concurrency" in errors[5] and "-3" in errors[5]
    assert not errors[5].startswith("invalid request")  # one prefix, the row's own


def test_a_rejected_row_keeps_a_readable_part_of_its_idea() -> None:
    rows = parse_rows("idea,duration_s\n" + "x" * 1500 + ",5\n", "csv")
    assert len(rows.rejected[0].idea) == 200


def test_blank_jsonl_lines_are_skipped_not_the_end_of_the_file() -> None:
    rows = parse_rows('{"idea": "A"}\n\n{"idea": "B"}\n', "jsonl")
    assert [(r.row, r.request.idea) for r in rows.valid] == [(1, "A"), (3, "B")]


def test_a_file_of_more_rows_than_allowed_is_refused_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("storygen.bulk.rows.MAX_ROWS", 3)
    assert len(parse_rows("idea\nA\nB\nC\n", "csv").valid) == 3  # the most is fine
    with pytest.raises(InvalidRequestError, match="more than 3 rows: split the file"):
        parse_rows("idea\nA\nB\nC\nD\n", "csv")
    with pytest.raises(InvalidRequestError, match="allowed: csv, jsonl"):
        parse_rows("idea\nA\n", "xlsx")


def test_an_empty_file_says_so() -> None:
    with pytest.raises(InvalidRequestError, match="no rows"):
        parse_rows("", "csv")


def test_an_upload_is_read_as_a_file_with_the_same_name_would_be(tmp_path: Path) -> None:
    """The Bulk page hands its upload's bytes to the same parser as the CLI's file."""
    data = b'{"idea": "A fox"}\n\n{"idea": "A hen", "strategy": "zigzag"}\n'
    path = tmp_path / "ideas.NDJSON"
    path.write_bytes(data)
    uploaded, read = parse_upload(path.name, data), read_rows(path)
    assert uploaded == read
    assert [r.row for r in uploaded.valid] == [1] and [r.row for r in uploaded.rejected] == [3]
    assert parse_upload("ideas.txt", b"idea\nA fox\n").valid[0].request.idea == "A fox"  # CSV
    with pytest.raises(InvalidRequestError, match=r"^x\.csv: not UTF-8") as exc:
        parse_upload("x.csv", "idea\ncafé\n".encode("latin-1"))
    assert exc.value.field == "file"
