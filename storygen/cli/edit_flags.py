"""The flags of `regenerate`, `edit`, `export`, `history` and `undo`, read without loading
their bodies (``cli.edits``), which run only when one of them does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storygen.cli.flags import Help
from storygen.core import export

_RUN = "a finished run's directory"
# A scene's text fields, as flags: the library names them as the model's fields.
TEXT = {
    "title": "the scene's title",
    "visual_prompt": "what the video model renders",
    "narration": "what the narrator says",
    "location": "where the scene takes place",
    "camera": "the shot and the camera's movement",
    "summary": "one line that later scenes read (changing it marks them stale)",
}


def add_parsers(sub: Any) -> None:
    """The five commands' flags (main.py builds the parser; the bodies run from COMMANDS)."""
    regen = sub.add_parser(
        "regenerate",
        help="write some scenes of a finished run again",
        formatter_class=Help,
        description="Each scene is told its neighbours' summaries as they are now, the story "
        "bible and the note; scenes are written in parallel within the run's concurrency, "
        "with the run's own backend. The script before is kept: see history, undo.",
    )
    regen.add_argument("run", type=Path, metavar="RUN", help=_RUN)
    regen.add_argument("--scenes", default=None, help="scenes and ranges, e.g. 3,7-9")
    regen.add_argument("--stale", action="store_true", help="also every stale scene")
    regen.add_argument("--note", default=None, help='told to each scene, e.g. "make it night"')

    ed = sub.add_parser(
        "edit",
        help="change the text of one scene of a finished run",
        formatter_class=Help,
        description="Checked as a model's answer is (no field may be empty). The script "
        "before is kept: see history, undo.",
    )
    ed.add_argument("run", type=Path, metavar="RUN", help=_RUN)
    ed.add_argument("--scene", type=int, required=True, help="the scene's number, from 1")
    for name, what in TEXT.items():
        ed.add_argument(flag(name), dest=name, default=None, help=what)
    ed.add_argument("--characters", default=None, help='names separated by commas: "Ana, Tom"')
    ed.add_argument(
        "--dialogue",
        action="append",
        default=None,
        metavar="'SPEAKER: LINE'",
        help="a spoken line (repeat for more); replaces the scene's dialogue",
    )
    ed.add_argument("--no-dialogue", action="store_true", help="remove the scene's dialogue")

    ex = sub.add_parser(
        "export", help="write a finished run's script in any format", formatter_class=Help
    )
    ex.add_argument("run", type=Path, metavar="RUN", help=_RUN)
    ex.add_argument("--out", type=Path, required=True, help="the file to write")
    ex.add_argument(
        "--format", choices=export.FORMATS, default=None, help="default: from --out's suffix"
    )

    hist = sub.add_parser(
        "history", help="the versions of a run's script, one a line", formatter_class=Help
    )
    hist.add_argument("run", type=Path, metavar="RUN", help=_RUN)
    hist.add_argument("--scene", type=int, default=None, help="only versions changing it")

    back = sub.add_parser(
        "undo",
        help="bring back the script before the last change",
        formatter_class=Help,
        description="Undo again to go back further; every version stays in RUN/versions/.",
    )
    back.add_argument("run", type=Path, metavar="RUN", help=_RUN)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")
