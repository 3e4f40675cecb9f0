"""Exports round-trip and open cleanly."""

from __future__ import annotations

import csv
import io
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
    SceneTiming,
    Script,
    ScriptRequest,
    SimulatedBackend,
    export,
    generate,
)
from storygen.core.continuity import Finding
from storygen.core.models import Bible


@pytest.fixture(scope="module")
def script():  # type: ignore[no-untyped-def]
    request = ScriptRequest(
        idea='A "quoted", comma-laden idea', duration_s=60, strategy="outline", concurrency=4
    )
    return generate(request, SimulatedBackend(time_scale=0))


def test_json_round_trip_is_lossless(script) -> None:  # type: ignore[no-untyped-def]
    again = export.from_json(export.to_json(script))
    assert again == script
    assert again.outline is not None and again.meta.timeline == script.meta.timeline


def test_csv_has_one_row_per_scene_with_readable_lists(script) -> None:  # type: ignore[no-untyped-def]
    text = export.to_csv(script)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == len(script.scenes) == 8
    for row, scene in zip(rows, script.scenes, strict=True):
        assert int(row["index"]) == scene.index
        assert row["characters"] == ", ".join(scene.characters)
        assert row["visual_prompt"] == scene.visual_prompt
        assert row["dialogues"].count("\n") == max(0, len(scene.dialogues) - 1)


def test_markdown_is_a_screenplay(script) -> None:  # type: ignore[no-untyped-def]
    md = export.to_markdown(script)
    assert md.startswith(f"# {script.title}")
    assert md.count("## Scene ") == len(script.scenes)
    assert "## Characters" in md


def test_write_picks_format_from_suffix(script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = export.write(script, tmp_path / "x.json")
    assert export.from_json(path.read_text()) == script
    with pytest.raises(InvalidRequestError, match="allowed: json, csv, md"):
        export.write(script, tmp_path / "x.pdf")


# A script made by hand, every field of every scene distinct, so a dropped or swapped
# column cannot go unseen: commas, quotes, newlines and non-ASCII where people put them.
SCENES = [
    Scene(
        index=1,
        duration_s=7.5,
        title='The "Drowned" Map, Part 1',
        location="Lighthouse, lamp room",
        characters=["Mara Vell", "Jonás Ørsted"],
        camera="slow dolly-in, 35mm",
        visual_prompt="Storm light through salt-streaked glass, a map on the desk, 4K",
        narration="Mara unrolls the map.\nIts ink is still wet, after 300 years.",
        dialogues=[
            Dialogue(speaker="Mara Vell", line='"Where did you find this?"'),
            Dialogue(speaker="Jonás Ørsted", line="In the nets, señora, tangled, with a key."),
        ],
        summary="Mara receives a wet-ink map; Jonás found it in the nets.",
    ),
    Scene(
        index=2,
        duration_s=8,
        title="Descent — 東京 below the waves",
        location="Open sea, dawn",
        characters=[],
        camera="drone top shot",
        visual_prompt="A rowing boat on glassy water; beneath it, drowned rooftops",
        narration="No one speaks; the oars dip, once, twice.",
        dialogues=[],
        summary="The boat crosses the drowned city at dawn.",
    ),
    Scene(
        index=3,
        duration_s=4,
        title="The Key, à la fin",
        location="Sunken square",
        characters=["Mara Vell"],
        camera="handheld, close-up",
        visual_prompt="Bubbles rise from a bronze door, kelp sways, god rays",
        narration="The key turns. 🗝",
        dialogues=[Dialogue(speaker="Mara Vell", line="It opens…")],
        summary="Mara opens the bronze door with the key.",
    ),
]
OUTLINE = Outline(
    title="The Drowned City",
    logline="A keeper follows a wet-ink map, to a city under the sea.",
    characters=[
        Character(
            name="Mara Vell", role="lighthouse keeper", visual_identity="grey coat, red scarf"
        ),
        Character(name="Jonás Ørsted", role="fisherman", visual_identity="yellow oilskin, beard"),
    ],
    beats=["the map", "the crossing", "the door"],
)


def _handmade(outline: Outline | None = OUTLINE) -> Script:
    request = ScriptRequest(idea="A keeper finds a map", duration_s=19.5, strategy="outline")
    timeline = [
        SceneTiming(
            index=s.index,
            group=1,
            start_s=0.1 * s.index,
            end_s=1.0 + s.index,
            attempts=s.index,
            context_lag=s.index - 1,
            context_size=0,
            had_outline=outline is not None,
            prompt_tokens=100 + s.index,
            completion_tokens=200 + s.index,
            service_s=0.9 + s.index,
        )
        for s in SCENES
    ]
    meta = RunMeta(
        backend="simulated",
        model="storygen-sim-1",
        strategy="outline",
        concurrency=5,
        wall_time_s=4.2,
        timeline=timeline,
    )
    title = outline.title if outline else "A keeper finds a map"
    return Script(title=title, request=request, outline=outline, scenes=SCENES, meta=meta)


def test_csv_has_exactly_these_columns_each_holding_its_own_field() -> None:
    text = export.to_csv(_handmade())
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header, *rows = list(reader)
    assert header == [
        "index", "duration_s", "title", "location", "characters", "camera",
        "visual_prompt", "narration", "dialogues", "summary",
    ]  # fmt: skip
    assert len(rows) == len(SCENES)
    for row, s in zip(rows, SCENES, strict=True):
        assert dict(zip(header, row, strict=True)) == {
            "index": str(s.index),
            "duration_s": f"{s.duration_s:g}",
            "title": s.title,
            "location": s.location,
            "characters": ", ".join(s.characters),
            "camera": s.camera,
            "visual_prompt": s.visual_prompt,
            "narration": s.narration,
            "dialogues": "\n".join(f"{d.speaker}: {d.line}" for d in s.dialogues),
            "summary": s.summary,
        }


def test_csv_values_as_a_spreadsheet_shows_them() -> None:
    """Spelled out for the first scene: a quote, a comma and a newline survive as written."""
    rows = list(csv.DictReader(io.StringIO(export.to_csv(_handmade())[1:], newline="")))
    first, second, third = rows
    assert first["title"] == 'The "Drowned" Map, Part 1'
    assert first["duration_s"] == "7.5" and second["duration_s"] == "8"
    assert first["characters"] == "Mara Vell, Jonás Ørsted"
    assert first["dialogues"] == (
        'Mara Vell: "Where did you find this?"\n'
        "Jonás Ørsted: In the nets, señora, tangled, with a key."
    )
    assert first["narration"] == "Mara unrolls the map.\nIts ink is still wet, after 300 years."
    assert second["characters"] == "" and second["dialogues"] == ""
    assert third["narration"] == "The key turns. 🗝"


def test_csv_file_is_utf8_with_a_bom_and_crlf_rows(tmp_path: Path) -> None:
    path = export.write(_handmade(), tmp_path / "script.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8") == export.to_csv(_handmade())
    header = "index,duration_s,title,location,characters,camera,visual_prompt,narration,dialogues"
    assert raw.split(b"\r\n")[0] == ("\ufeff" + header + ",summary").encode("utf-8")


@pytest.mark.parametrize("outline", [OUTLINE, None])
def test_json_round_trip_keeps_every_field(outline: Outline | None) -> None:
    script = _handmade(outline)
    text = export.to_json(script)
    assert export.from_json(text) == script
    data = json.loads(text)
    assert data["title"] == script.title
    assert data["request"]["idea"] == "A keeper finds a map"
    for got, s in zip(data["scenes"], SCENES, strict=True):
        assert got == {
            "index": s.index,
            "duration_s": s.duration_s,
            "title": s.title,
            "location": s.location,
            "characters": s.characters,
            "camera": s.camera,
            "visual_prompt": s.visual_prompt,
            "narration": s.narration,
            "dialogues": [{"speaker": d.speaker, "line": d.line} for d in s.dialogues],
            "summary": s.summary,
        }
    assert [t["service_s"] for t in data["meta"]["timeline"]] == [1.9, 2.9, 3.9]
    assert [t["attempts"] for t in data["meta"]["timeline"]] == [1, 2, 3]
    assert data["meta"]["wall_time_s"] == 4.2
    if outline is None:
        assert data["outline"] is None
    else:
        assert data["outline"]["logline"] == outline.logline
        assert data["outline"]["beats"] == ["the map", "the crossing", "the door"]
        assert [c["visual_identity"] for c in data["outline"]["characters"]] == [
            "grey coat, red scarf",
            "yellow oilskin, beard",
        ]


def _section(md: str, start: str, end: str | None) -> str:
    """The text between two headings (or to the end), which must come in this order."""
    i = md.index(start)
    j = md.index(end, i) if end else len(md)
    return md[i:j]


def test_markdown_screenplay_has_every_scene_in_order_with_all_its_parts() -> None:
    md = export.to_markdown(_handmade())
    headings = [
        '## Scene 1: The "Drowned" Map, Part 1 (7.5 s)',
        "## Scene 2: Descent — 東京 below the waves (8 s)",
        "## Scene 3: The Key, à la fin (4 s)",
    ]
    assert [line for line in md.splitlines() if line.startswith("## Scene")] == headings
    for i, s in enumerate(SCENES):
        part = _section(md, headings[i], headings[i + 1] if i + 1 < len(SCENES) else None)
        lines = part.splitlines()
        assert f"**{s.location.upper()}** | camera: {s.camera}" in lines
        assert f"> {s.visual_prompt}" in lines
        assert s.narration in part
        spoken = [line for line in lines if line.startswith("**") and "**: " in line]
        assert spoken == [f"**{d.speaker.upper()}**: {d.line}" for d in s.dialogues]
        assert s.summary not in part  # the summary is context for the model, not screenplay
    assert "**LIGHTHOUSE, LAMP ROOM** | camera: slow dolly-in, 35mm" in md
    assert "**JONÁS ØRSTED**: In the nets, señora, tangled, with a key." in md


def test_markdown_opens_with_title_logline_and_characters_when_there_is_an_outline() -> None:
    md = export.to_markdown(_handmade())
    head = _section(md, "# The Drowned City", "## Scene 1")
    assert md.startswith("# The Drowned City\n")
    assert "*A keeper follows a wet-ink map, to a city under the sea.*" in head.splitlines()
    characters = _section(head, "## Characters", None).splitlines()
    assert [line for line in characters if line.startswith("- ")] == [
        "- **Mara Vell**, lighthouse keeper: grey coat, red scarf",
        "- **Jonás Ørsted**, fisherman: yellow oilskin, beard",
    ]


def test_markdown_without_an_outline_goes_straight_to_the_scenes() -> None:
    md = export.to_markdown(_handmade(None))
    assert md.startswith("# A keeper finds a map\n")
    assert md.split("## Scene 1")[0] == "# A keeper finds a map\n\n"
    assert md.count("## Scene ") == 3


def test_markdown_quotes_every_line_of_a_multi_line_visual_prompt() -> None:
    """A model may break a prompt over lines; each one stays inside the quote block."""
    first = SCENES[0].model_copy(update={"visual_prompt": "Wide shot of the bay\nslow push in"})
    script = _handmade().model_copy(update={"scenes": [first, *SCENES[1:]]})
    lines = export.to_markdown(script).splitlines()
    at = lines.index("> Wide shot of the bay")
    assert lines[at + 1] == "> slow push in"


def test_to_dataframe_is_the_csv_export_as_a_table() -> None:
    script = _handmade()
    frame = script.to_dataframe()
    rows = list(csv.reader(io.StringIO(export.to_csv(script).lstrip("\ufeff"))))
    assert list(frame.columns) == rows[0]
    assert frame.astype(str).values.tolist() == rows[1:]


# --- continuity: JSON carries the findings, Markdown closes with them ------------------

FOUND = [
    Finding(
        scene=1,
        kind="name_variant",
        detail='"Jonas Orsted" is close to the bible\'s "Jonás Ørsted" but spelled differently',
        evidence="characters: Mara Vell, Jonas Orsted\nline two of the evidence",
    ),
    Finding(
        scene=3,
        kind="look_missing",
        detail="Mara Vell's look is not in the visual prompt: grey coat, red scarf",
        evidence="visual prompt: Bubbles rise from a bronze door, kelp sways, god rays",
    ),
]


def _appendix(md: str) -> list[str]:
    return md[md.index("## Continuity") :].splitlines()


def test_json_carries_the_findings_and_loads_them_back() -> None:
    script = _handmade().model_copy(update={"findings": FOUND})
    data = json.loads(export.to_json(script))
    assert data["findings"] == [f.model_dump() for f in FOUND]
    assert export.from_json(export.to_json(script)).findings == FOUND


def test_an_export_from_before_the_check_still_loads_and_is_checked_when_shown() -> None:
    older = json.loads(export.to_json(_handmade()))
    del older["findings"], older["bible"]  # neither key existed then
    script = export.from_json(json.dumps(older))
    assert script.findings == [] and script.bible is None
    assert export.findings_of(script) == script.check() != []  # looks the outline gives
    assert export.findings_of(script.model_copy(update={"findings": []})) == []


def test_markdown_closes_with_a_continuity_appendix_of_every_finding_and_its_evidence() -> None:
    md = export.to_markdown(_handmade().model_copy(update={"findings": FOUND}))
    assert md.index("## Scene 3") < md.index("## Continuity")
    assert _appendix(md) == [
        "## Continuity",
        "",
        "continuity: 2 findings (1 name_variant, 1 look_missing)",
        "",
        '- **Scene 1** · name_variant: "Jonas Orsted" is close to the bible\'s "Jonás Ørsted" '
        "but spelled differently",
        "  > characters: Mara Vell, Jonas Orsted",
        "  > line two of the evidence",
        "- **Scene 3** · look_missing: Mara Vell's look is not in the visual prompt: grey coat, "
        "red scarf",
        "  > visual prompt: Bubbles rise from a bronze door, kelp sways, god rays",
    ]
    assert md.count("## Scene ") == 3  # the appendix adds no scene heading


def test_a_clean_script_says_so_in_its_appendix() -> None:
    md = export.to_markdown(_handmade(None).model_copy(update={"findings": []}))
    assert _appendix(md) == ["## Continuity", "", "continuity: no findings"]
    assert md.endswith("continuity: no findings\n")


def test_markdown_of_a_bible_run_lists_the_cast_every_scene_was_told() -> None:
    bible = Bible(characters=OUTLINE.characters, setting="a drowned city")
    md = export.to_markdown(_handmade(None).model_copy(update={"bible": bible}))
    head = _section(md, "# A keeper finds a map", "## Scene 1")
    assert [line for line in head.splitlines() if line.startswith("- ")] == [
        "- **Mara Vell**, lighthouse keeper: grey coat, red scarf",
        "- **Jonás Ørsted**, fisherman: yellow oilskin, beard",
    ]
