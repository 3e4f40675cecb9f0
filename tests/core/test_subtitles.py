"""SRT and WebVTT from the narration, timed by the clips, read back by `srt` and `webvtt`."""

from __future__ import annotations

import html
import itertools
from datetime import timedelta

import pytest
import srt
import webvtt

from storygen import RunMeta, Scene, Script, ScriptRequest, export
from storygen.core.subtitles import CUE_LINES, LINE_CHARS, cues, split_cues

LONG = (
    "The keeper climbs the spiral stairs, one hundred and twelve of them, counting each "
    "aloud, while below her the sea throws itself against the rocks, again and again, "
    "as it has every night for three hundred years."
)


def _scene(index: int, duration_s: float, narration: str) -> Scene:
    return Scene(
        index=index,
        duration_s=duration_s,
        title=f"Scene {index}",
        location="Lighthouse, lamp room",
        characters=[],
        camera="static",
        visual_prompt="A lamp room at night",
        narration=narration,
        dialogues=[],
        summary=f"Scene {index} happens.",
    )


def _script(*scenes: Scene) -> Script:
    request = ScriptRequest(idea="A keeper", duration_s=max(8.0, sum(s.duration_s for s in scenes)))
    meta = RunMeta(backend="simulated", model="sim", strategy="batched", concurrency=5)
    return Script(title="The Keeper", request=request, scenes=list(scenes), meta=meta)


SCRIPT = _script(
    _scene(1, 7.5, "The map is still wet."),
    _scene(2, 8, LONG),
    _scene(3, 4, ""),  # a silent clip: no cue, but it still takes its time
    _scene(4, 6.25, "Rain & <static> --> silence."),
)


def _seconds(t: timedelta) -> float:
    return t.total_seconds()


def _vtt_s(stamp: str) -> float:
    """``HH:MM:SS.mmm`` as seconds."""
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_srt_reads_back_with_every_cue_inside_its_clip_and_the_narration_whole() -> None:
    subs = list(srt.parse(export.render(SCRIPT, "srt")))
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    first, *middle, last = subs
    assert (_seconds(first.start), _seconds(first.end)) == (0.0, 7.5)
    assert first.content == "The map is still wet."
    # scene 2 runs from 7.5 s to 15.5 s, split into several cues that fill it end to end
    assert len(middle) > 1
    assert _seconds(middle[0].start) == 7.5 and _seconds(middle[-1].end) == 15.5
    for before, after in itertools.pairwise(middle):
        assert before.end == after.start
    assert " ".join(" ".join(s.content.split("\n")) for s in middle) == LONG
    # scene 3 is silent; scene 4 starts at 7.5 + 8 + 4 = 19.5 s
    assert (_seconds(last.start), _seconds(last.end)) == (19.5, 25.75)


def test_every_cue_has_at_most_two_lines_of_at_most_42_characters() -> None:
    for sub in srt.parse(export.render(SCRIPT, "srt")):
        lines = sub.content.split("\n")
        assert 1 <= len(lines) <= CUE_LINES == 2
        assert all(0 < len(line) <= LINE_CHARS == 42 for line in lines), lines


def test_a_long_narration_shares_its_clip_by_the_length_of_each_cue() -> None:
    chunks = cues(SCRIPT)[1:-1]
    total = sum(len(c.text.replace("\n", " ")) for c in chunks)
    for c in chunks:
        share = len(c.text.replace("\n", " ")) / total
        assert abs((c.end_ms - c.start_ms) - 8000 * share) <= 1


def test_webvtt_reads_back_with_the_same_times_and_texts() -> None:
    text = export.render(SCRIPT, "vtt")
    assert text.startswith("WEBVTT\n")
    captions = webvtt.from_string(text).captions
    subs = list(srt.parse(export.render(SCRIPT, "srt")))
    assert len(captions) == len(subs)
    for caption, sub in zip(captions, subs, strict=True):
        assert (_vtt_s(caption.start), _vtt_s(caption.end)) == (
            _seconds(sub.start),
            _seconds(sub.end),
        )
        assert html.unescape(caption.text) == sub.content.replace("-->", "→")


def test_webvtt_escapes_markup_so_a_narration_is_shown_as_written() -> None:
    text = export.render(SCRIPT, "vtt")
    assert "Rain &amp; &lt;static&gt; → silence." in text
    last = webvtt.from_string(text).captions[-1]
    assert html.unescape(last.raw_text) == "Rain & <static> → silence."


def test_an_arrow_in_the_narration_cannot_start_a_cue_in_srt() -> None:
    subs = list(srt.parse(export.render(SCRIPT, "srt")))
    assert subs[-1].content == "Rain & <static> → silence."


def test_times_past_an_hour_and_text_without_spaces() -> None:
    script = _script(_scene(1, 3601, "Long."), _scene(2, 8, "東京の夜" * 30))
    subs = list(srt.parse(export.render(script, "srt")))
    assert "01:00:01,000 --> " in export.render(script, "srt")
    assert _seconds(subs[1].start) == 3601 and _seconds(subs[-1].end) == 3609
    assert "".join(s.content.replace("\n", "") for s in subs[1:]) == "東京の夜" * 30
    assert all(len(line) <= LINE_CHARS for s in subs for line in s.content.split("\n"))
    captions = webvtt.from_string(export.render(script, "vtt")).captions
    assert captions[1].start == "01:00:01.000"


@pytest.mark.parametrize("words", [1, 7, 8, 15, 40])
def test_a_cue_split_uses_the_fewest_cues_and_leaves_no_lone_word(words: int) -> None:
    narration = " ".join(["lantern"] * words)  # 8 characters a word with its space
    chunks = split_cues(narration)
    assert " ".join(" ".join(c) for c in chunks) == narration
    # 2 lines of 42 hold 10 words ("lantern" x5 is 39 characters)
    assert len(chunks) == -(-words // 10)
    sizes = [sum(len(line.split()) for line in c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1


def test_a_written_file_picks_the_format_by_suffix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srt_path = export.write(SCRIPT, tmp_path / "keeper.srt")
    vtt_path = export.write(SCRIPT, tmp_path / "keeper.VTT")
    assert list(srt.parse(srt_path.read_text(encoding="utf-8")))
    assert webvtt.read(str(vtt_path)).captions
