"""bible.json: written once, read back whole, absent until written."""

from __future__ import annotations

from pathlib import Path

from storygen import RunStore, ScriptRequest
from storygen.core.models import Bible, Character


def test_the_bible_is_saved_and_read_back(tmp_path: Path) -> None:
    run = RunStore(tmp_path).create(ScriptRequest(idea="A", duration_s=8), {"kind": "simulated"})
    assert run.load_bible() is None
    bible = Bible(
        characters=[Character(name="Zoë", role="baker", visual_identity="a fox in an apron")],
        setting="a bakery",
        objects=["a sourdough starter"],
    )
    run.save_bible(bible)
    assert run.load_bible() == bible
    assert not list(run.path.glob(".bible.json.*"))  # written atomically, no temp file left
