"""Subtitles from the narration (SRT and WebVTT), timed by the clips.

The clips play one after another, so scene k runs from the sum of the earlier scenes'
``duration_s`` for its own duration. A cue holds at most 2 lines of at most 42 characters
(the usual broadcast limits); a narration too long for one cue is split into several cues
within its clip, each shown for a share of the clip in proportion to its length. Times are
whole milliseconds, so a clip's last cue ends exactly where the next clip starts.

The files are written by ``srt`` and ``webvtt-py``, not by hand: their writers know the
formats' corners (SRT's blank-line rule, WebVTT's header and cue validation).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import srt
import webvtt

from storygen.core.models import Scene, Script

LINE_CHARS = 42
CUE_LINES = 2


@dataclass(frozen=True)
class Cue:
    """One subtitle: what is shown, from when to when (milliseconds from the first clip)."""

    scene: int
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def clip_starts(scenes: Iterable[Scene]) -> Iterator[tuple[Scene, float]]:
    """Each scene in index order, with the second its clip starts at."""
    start = 0.0
    for scene in sorted(scenes, key=lambda s: s.index):
        yield scene, start
        start += scene.duration_s


def wrap(text: str) -> list[str]:
    """Text as subtitle lines of at most LINE_CHARS characters."""
    return textwrap.wrap(text, LINE_CHARS, break_long_words=True, break_on_hyphens=False)


def _words(narration: str) -> list[str]:
    """The narration's words, none longer than a line (text without spaces, as Chinese or
    Japanese, is cut into line-long pieces). Whitespace collapses, as the lines are laid
    out anew, and "-->" becomes an arrow: both formats read it as a cue's timing line."""
    flat = narration.replace("-->", "→").split()
    return [w[i : i + LINE_CHARS] for w in flat for i in range(0, len(w), LINE_CHARS)]


def _balanced(words: list[str], parts: int) -> list[str]:
    """``words`` in ``parts`` runs of about equal length: a word goes to the run its middle
    falls in, so no cue is left with a lone last word."""
    total = sum(len(w) + 1 for w in words)
    runs: list[list[str]] = [[] for _ in range(parts)]
    at = 0
    for word in words:
        middle = at + len(word) / 2
        runs[min(parts - 1, int(middle * parts / total))].append(word)
        at += len(word) + 1
    return [" ".join(run) for run in runs if run]


def _lines(run: str) -> list[str]:
    """A cue's text as lines, of about equal length when it takes more than one."""
    wrapped = wrap(run)
    even = _balanced(run.split(), len(wrapped)) if len(wrapped) > 1 else wrapped
    return even if all(len(line) <= LINE_CHARS for line in even) else wrapped


def split_cues(narration: str) -> list[tuple[str, ...]]:
    """The fewest cues of at most CUE_LINES lines that hold the narration, of about equal
    length. With one word a cue every cue fits, so the search ends."""
    words = _words(narration)
    parts = -(-len(wrap(" ".join(words))) // CUE_LINES)
    while parts < len(words):
        chunks = [_lines(run) for run in _balanced(words, parts)]
        if all(len(lines) <= CUE_LINES for lines in chunks):
            return [tuple(lines) for lines in chunks]
        parts += 1
    return [(word,) for word in words]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def scene_cues(scene: Scene, start_s: float) -> list[Cue]:
    """The cues of one clip, the clip's time shared by their length."""
    chunks = split_cues(scene.narration)
    weights = [len(" ".join(chunk)) for chunk in chunks]
    begin, end = _ms(start_s), _ms(start_s + scene.duration_s)
    total, done, cues = sum(weights), 0, []
    for chunk, weight in zip(chunks, weights, strict=True):
        at = begin + (end - begin) * done // total
        done += weight
        cues.append(Cue(scene.index, at, begin + (end - begin) * done // total, chunk))
    return cues


def cues(script: Script) -> list[Cue]:
    """Every cue of the script, in order; a scene without narration has none."""
    return [cue for scene, start in clip_starts(script.scenes) for cue in scene_cues(scene, start)]


def to_srt(script: Script) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm`` times. Numbered here rather than by
    ``srt.compose``'s reindexing, which would silently drop a zero-length cue."""
    subtitles = [
        srt.Subtitle(
            index=number,
            start=timedelta(milliseconds=cue.start_ms),
            end=timedelta(milliseconds=cue.end_ms),
            content=cue.text,
        )
        for number, cue in enumerate(cues(script), start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def _vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _vtt_escape(line: str) -> str:
    """WebVTT cue text is markup: "&" and "<" start entities and tags ("<v Mara>")."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(script: Script) -> str:
    """WebVTT: the ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, cue text escaped."""
    captions = [
        webvtt.Caption(
            start=_vtt_time(cue.start_ms),
            end=_vtt_time(cue.end_ms),
            text="\n".join(_vtt_escape(line) for line in cue.lines),
        )
        for cue in cues(script)
    ]
    return webvtt.WebVTT(captions=captions).content
