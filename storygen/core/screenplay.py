"""The script as a Fountain screenplay (fountain.io): plain text that Highland, Fade In,
Beat and screenplain turn into a formatted screenplay.

Per scene: a scene heading from its location (with its number, ``#3#``), the scene's title
as a synopsis line (kept by editors, not printed), the visual prompt as action (what the
camera sees), the camera as a note (also not printed), then the narration as the dialogue
of ``NARRATOR (V.O.)`` and the scene's dialogues. The narration is voice-over, not action:
it is heard, not seen, and a screenplay gives what is heard to a speaker; as V.O. it keeps
its own place and timing in an editor's dialogue tools.

Model text is untrusted here too: whatever a line would otherwise turn into (a heading, a
transition, a note, emphasis) it is forced or escaped to stay what it is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from storygen.core.models import Scene, Script

NARRATOR = "NARRATOR (V.O.)"
# Fountain's scene heading prefixes (fountain.io/syntax#scene-headings); screenplain's too.
_HEADING = re.compile(r"^(INT|EXT|EST|INT\.?/EXT\.?|I/E)[ .]")
# A location that already names its own prefix, perhaps not in a form Fountain reads.
_HAS_PREFIX = re.compile(r"^(INT|EXT|EST|INT\.?/EXT|I/E)\b\.?", re.IGNORECASE)
_OUTSIDE = re.compile(
    r"\b(outside|outdoors?|exterior|street|streets|road|alley|forest|woods|jungle|field|"
    r"fields|meadow|garden|park|yard|courtyard|beach|shore|coast|sea|ocean|lake|river|"
    r"harbou?r|dock|pier|mountain|mountains|hill|hills|cliff|desert|valley|sky|rooftop|"
    r"roof|deck|square|plaza|bridge|campsite|countryside|village|city|town|ruins|"
    r"battlefield|space|orbit|island|canyon|swamp|glacier|tundra|savanna)\b",
    re.IGNORECASE,
)
_INSIDE = re.compile(
    r"\b(inside|interior|indoors?|room|hall|kitchen|bedroom|office|corridor|cabin|cave|"
    r"lab|laboratory|library|studio|bar|shop|store|church|temple|apartment|house|car|"
    r"train|cockpit|basement|attic|garage|warehouse|classroom|restaurant)\b",
    re.IGNORECASE,
)
# A line starting with one of these means something else in Fountain (forced elements,
# sections, synopses, centered text, lyrics, notes).
_SPECIAL_START = tuple("!@.#=>~[")


def one_line(text: str) -> str:
    """Whitespace and line breaks collapsed: one Fountain line, never a blank line, which
    would end the paragraph it belongs to."""
    return " ".join(text.split())


def _plain_text(text: str) -> str:
    """Fountain markup in model text made literal: stars escaped (no bold or italics, and no
    "/*" boneyard, which would hide every scene up to its "*/"), notes ("[[") broken apart.
    Underscores stay: screenplain reads no escaped "_", and an underline is harmless."""
    return text.replace("*", "\\*").replace("[[", "[ [").replace("]]", "] ]")


def interior_or_exterior(location: str) -> str:
    """INT. or EXT., from the location's words; INT. when they do not tell."""
    outside, inside = _OUTSIDE.search(location), _INSIDE.search(location)
    if outside and not (inside and inside.start() < outside.start()):
        return "EXT."
    return "INT."


def scene_heading(scene: Scene) -> str:
    """The scene heading: prefix, location in capitals, scene number. Forced with a leading
    "." when Fountain would not read it as a heading (a location that is only "EXT")."""
    location = _plain_text(one_line(scene.location)).upper().replace("#", "")
    if not _HAS_PREFIX.match(location):
        location = f"{interior_or_exterior(scene.location)} {location or 'UNKNOWN'}".strip()
    heading = f"{location} #{scene.index}#"
    return heading if _HEADING.match(heading) else f".{heading}"


def action(text: str) -> str:
    """One action paragraph, forced with "!" when Fountain would read it as something else."""
    line = _plain_text(one_line(text))
    upper = line.upper()
    looks_special = (
        line.startswith(_SPECIAL_START)
        or _HEADING.match(upper) is not None
        or upper.endswith("TO:")
    )
    return f"!{line}" if looks_special else line


def character_cue(name: str) -> str:
    """A speaker's name as a character cue: in capitals, forced with "@" when capitals alone
    do not make it one (no cased letters, as in "42" or "東京", or a special first sign)."""
    cue = _plain_text(one_line(name)).upper().rstrip("^ ") or "UNKNOWN"
    before_paren = cue.split("(", 1)[0]
    plain = before_paren.isupper() and not cue.startswith(_SPECIAL_START)
    return cue if plain else f"@{cue}"


def _speech(line: str) -> str:
    """A dialogue line; a model's line wrapped in parentheses stays a parenthetical."""
    return _plain_text(one_line(line)) or "..."


def _draft_date(script: Script) -> str:
    started = script.meta.started_at
    day = datetime.fromtimestamp(started, UTC).date() if started is not None else date.today()
    return day.isoformat()


def title_page(script: Script) -> list[str]:
    return [
        f"Title: {_plain_text(one_line(script.title)) or 'Untitled'}",
        "Credit: Written by",
        "Author: storygen",
        f"Draft date: {_draft_date(script)}",
    ]


def scene_block(scene: Scene) -> list[str]:
    """One scene's paragraphs, each closed by a blank line."""
    block = [scene_heading(scene), ""]
    if title := one_line(scene.title):
        block += [f"= {_plain_text(title)}", ""]
    if scene.visual_prompt.strip():
        block += [action(scene.visual_prompt), ""]
    if camera := one_line(scene.camera):
        block += [f"[[Camera: {_plain_text(camera)}]]", ""]
    if scene.narration.strip():
        block += [NARRATOR, _speech(scene.narration), ""]
    for d in scene.dialogues:
        block += [character_cue(d.speaker), _speech(d.line), ""]
    return block


def to_fountain(script: Script) -> str:
    """Title page, a blank line, then every scene in order."""
    lines = [*title_page(script), ""]
    for scene in sorted(script.scenes, key=lambda s: s.index):
        lines += scene_block(scene)
    return "\n".join(lines)
