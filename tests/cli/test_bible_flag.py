"""generate's --bible/--no-bible: not given, the request's own default holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storygen import ScriptRequest
from storygen.cli.flags import bible_choice
from storygen.cli.main import _parser, main

BASE = ["generate", "--idea", "A fox opens a bakery", "--duration", "16"]


@pytest.mark.parametrize(
    ("flags", "asked"), [([], None), (["--bible"], True), (["--no-bible"], False)]
)
def test_the_flag_sets_the_request_field_only_when_given(
    flags: list[str], asked: bool | None
) -> None:
    args = _parser().parse_args([*BASE, *flags])
    assert args.bible is asked
    request = ScriptRequest.build(idea="A", duration_s=16, **bible_choice(args))
    assert request.bible is (
        ScriptRequest.model_fields["bible"].default if asked is None else asked
    )


@pytest.mark.parametrize("flag", ["--bible", "--no-bible"])
def test_a_generate_run_saves_what_was_asked(tmp_path: Path, flag: str) -> None:
    runs = tmp_path / "runs"
    argv = [*BASE, flag, "--time-scale", "0.001", "--no-progress", "--runs-dir", str(runs)]
    assert main(argv) == 0
    (run,) = runs.iterdir()
    assert json.loads((run / "request.json").read_text(encoding="utf-8"))["bible"] is (
        flag == "--bible"
    )
    assert (run / "bible.json").exists() is (flag == "--bible")
