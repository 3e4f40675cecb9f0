"""The exact Markdown layout, and which file ``write`` makes (gaps found by mutation testing).

test_export.py checks each part of the screenplay; here the whole text of a small script is
written out by hand, so a lost or extra blank line (which breaks Markdown's paragraphs and
quote blocks) shows too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storygen import (
    Character,
    Dialogue,
    InvalidRequestError,
    Outline,
    RunMeta,
    Scene,
    Script,
    ScriptRequest,
    export,
)

SCENES = [
    Scene(
        index=1,
        duration_s=8,
        title="The Map",
        location="Lamp room",
        characters=["Mara", "Jon"],
        camera="slow dolly-in",
        visual_prompt="A wet map on a desk",
        narration="The ink is still wet.",
        dialogues=[
            Dialogue(speaker="Mara", line="Where did you find it?"),
            Dialogue(speaker="Jon", line="In the nets."),
        ],
        summary="Jon brings Mara a map.",
    ),
    Scene(
        index=2,
        duration_s=4.5,
        title="The Door",
        location="Sunken square",
        characters=["Mara"],
        camera="handheld",
        visual_prompt="A bronze door under the sea",
        narration="It opens.",
        dialogues=[],
        summary="Mara opens the door.",
    ),
]
OUTLINE = Outline(
    title="The Drowned City",
    logline="A keeper follows a map to a city under the sea.",
    characters=[
        Character(name="Mara", role="keeper", visual_identity="red scarf"),
        Character(name="Jon", role="fisherman", visual_identity="yellow oilskin"),
    ],
    beats=["the map", "the door"],
)
SCREENPLAY = """\
# The Drowned City

*A keeper follows a map to a city under the sea.*

## Characters

- **Mara**, keeper: red scarf
- **Jon**, fisherman: yellow oilskin

## Scene 1: The Map (8 s)

**LAMP ROOM** | camera: slow dolly-in

> A wet map on a desk

The ink is still wet.

**MARA**: Where did you find it?

**JON**: In the nets.

## Scene 2: The Door (4.5 s)

**SUNKEN SQUARE** | camera: handheld

> A bronze door under the sea

It opens.

## Continuity

continuity: 3 findings (3 look_missing)

- **Scene 1** · look_missing: Mara's look is not in the visual prompt: red scarf
  > visual prompt: A wet map on a desk
- **Scene 1** · look_missing: Jon's look is not in the visual prompt: yellow oilskin
  > visual prompt: A wet map on a desk
- **Scene 2** · look_missing: Mara's look is not in the visual prompt: red scarf
  > visual prompt: A bronze door under the sea
"""


def _script() -> Script:
    request = ScriptRequest(idea="A keeper finds a map", duration_s=12.5, strategy="outline")
    meta = RunMeta(backend="simulated", model="m", strategy="outline", concurrency=2)
    return Script(title=OUTLINE.title, request=request, outline=OUTLINE, scenes=SCENES, meta=meta)


def test_the_screenplay_is_exactly_this_text() -> None:
    assert export.to_markdown(_script()) == SCREENPLAY


def test_the_json_file_is_indented_by_two_spaces() -> None:
    text = export.to_json(_script())
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1].startswith('  "') and not lines[1].startswith("   ")
    assert json.loads(text)["title"] == "The Drowned City"


@pytest.mark.parametrize("name", ["script.markdown", "script.MD", "script.md"])
def test_a_markdown_suffix_writes_the_screenplay(tmp_path: Path, name: str) -> None:
    path = export.write(_script(), tmp_path / name)
    assert path.read_text(encoding="utf-8") == SCREENPLAY


def test_write_makes_the_missing_folders(tmp_path: Path) -> None:
    path = export.write(_script(), tmp_path / "out" / "scripts" / "drowned.json")
    assert export.from_json(path.read_text(encoding="utf-8")) == _script()


@pytest.mark.parametrize("name", ["script.XLSX", "script.txt"])
def test_an_unknown_format_is_refused_by_name(tmp_path: Path, name: str) -> None:
    fmt = name.rsplit(".", 1)[1].lower()
    with pytest.raises(InvalidRequestError, match=f"unknown export format '{fmt}'") as info:
        export.write(_script(), tmp_path / name)
    assert info.value.field == "format"
    assert not (tmp_path / name).exists()
