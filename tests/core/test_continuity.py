"""The continuity check: silent on a clean script, and each kind caught where it is planted."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from storygen import Character, Dialogue, Finding, RunMeta, Scene, Script, ScriptRequest, check
from storygen.core import export
from storygen.core.continuity import KINDS, bible_characters, counts, is_extra, summary_line
from storygen.core.models import Bible

LOOKS = {
    "Zoë Laurent": "a freckled woman with a red scarf and round glasses",
    "Søren Dahl": "a bearded fisherman in a grey wool sweater",
    "李娜": "a young woman in a blue silk jacket",
    "Анна": "a silver-haired pilot in a leather coat",
}
SUMMARIES = [
    "Zoë arrives in Copenhagen by the night ferry and meets Søren at the harbour.",
    "Søren shows Zoë the drowned chart he pulled from his nets in Lisbon.",
    "李娜 decodes the chart's margin notes in a Shanghai tea house at dawn.",
    "Анна flies everyone north over Reykjavik while a storm gathers behind them.",
    "They land on the ice and Zoë finds the door the chart promised.",
    "Inside, Søren lights the old lamps and the whole city glows under the sea.",
]


def scene(index: int, **fields: Any) -> Scene:
    defaults: dict[str, Any] = {
        "title": f"Scene {index}",
        "visual_prompt": "",
        "narration": "",
        "location": "",
        "camera": "wide shot",
        "summary": SUMMARIES[(index - 1) % len(SUMMARIES)],
        "duration_s": 8.0,
    }
    return Scene(index=index, **{**defaults, **fields})


def script(
    scenes: list[Scene], *, bible: dict[str, str] | None = None, language: str = "en"
) -> Script:
    cast = None
    if bible is not None:
        cast = Bible(
            characters=[Character(name=n, role="", visual_identity=v) for n, v in bible.items()]
        )
    return Script(
        title="The drowned chart",
        request=ScriptRequest(
            idea="A drowned chart", duration_s=8 * len(scenes), language=language
        ),
        bible=cast,
        scenes=scenes,
        meta=RunMeta(backend="test", model="test", strategy="sequential", concurrency=1),
    )


def looks(*names: str) -> str:
    return "Night, rain. " + " ".join(f"{n}: {LOOKS[n]}." for n in names)


def clean_scenes() -> list[Scene]:
    """Pronouns, place names, accents, non-Latin names and unnamed extras everywhere."""
    zoe, soren, li, anna = LOOKS
    return [
        scene(
            1,
            characters=[zoe, "a fisherwoman", "Søren"],
            visual_prompt=looks(zoe, soren) + " A fisherwoman mends nets in Copenhagen.",
            narration="Zoë came to Copenhagen in 1999 with one question.",
            dialogues=[
                Dialogue(speaker="Zoë", line="Are you Søren?"),
                Dialogue(speaker="The old man", line="He is."),
                Dialogue(speaker="Søren Dahl", line="I am."),
            ],
        ),
        scene(
            2,
            characters=["Søren", "Zoë", "the harbour master"],
            visual_prompt=looks(soren, zoe),
            narration="He shows her the chart he found off Lisbon.",
            dialogues=[Dialogue(speaker="She", line="Where did this come from?")],
        ),
        scene(
            3,
            characters=[li, "tea house owner"],
            visual_prompt=looks(li).upper(),  # case is no matter
            narration="In Shanghai, 李娜 reads what nobody else could.",
            dialogues=[Dialogue(speaker="李娜", line="这是一张旧地图。")],
        ),
        scene(
            4,
            characters=[anna, "Zoë", "Søren", "李娜"],
            visual_prompt=looks(anna, zoe, soren, li).replace(",", " ,").replace(" ", "  "),
            narration="Анна flies them north. Nobody speaks.",
            dialogues=[Dialogue(speaker="Narrator", line="The storm followed.")],
        ),
        scene(
            5,
            # the same name with its accent decomposed (NFD), as some editors save it
            characters=[unicodedata.normalize("NFD", "Zoë"), "Old Man", "Guard 2"],
            visual_prompt=looks(zoe),
            narration="Under the ice, a door.",
            dialogues=[Dialogue(speaker="Old Man", line="Turn back.")],
        ),
        scene(
            6,
            characters=["Dr. Søren Dahl", "everyone"],
            visual_prompt=looks(soren),
            narration="The lamps catch, one by one, and the city wakes.",
            dialogues=[Dialogue(speaker="They", line="Look!")],
        ),
    ]


def test_a_clean_script_with_a_bible_has_no_findings() -> None:
    clean = script(clean_scenes(), bible=LOOKS)
    assert check(clean) == []
    assert clean.check() == []
    assert summary_line(check(clean)) == "continuity: no findings"


def test_a_clean_script_without_a_bible_has_no_findings() -> None:
    assert check(script(clean_scenes())) == []


def test_a_clean_chinese_script_has_no_findings() -> None:
    scenes = [
        scene(
            1,
            characters=["李娜", "王伟"],
            narration="李娜在上海的茶馆里读地图。",
            summary="李娜和王伟在茶馆里第一次看到那张旧地图。",
        ),
        scene(
            2,
            characters=["王伟"],
            narration="王伟找到了那扇门。",
            summary="王伟在冰面上找到了地图指向的那扇门。",
        ),
        scene(
            3,
            characters=["李娜", "一个渔夫"],
            narration="灯一盏一盏亮了。",
            summary="李娜点亮了海底城市里所有的旧灯。",
        ),
    ]
    assert check(script(scenes, language="zh")) == []


@pytest.mark.parametrize(
    "entry",
    ["a fisherwoman", "the old man", "The old man", "La pescadora", "Der alte Mann", "l'homme",
     "Mara's mother", "She", "Ich", "Narrator", "Old Man", "Guard 2", "villagers", "Everyone"],
)  # fmt: skip
def test_extras_and_pronouns_are_not_names(entry: str) -> None:
    assert is_extra(entry)


@pytest.mark.parametrize("entry", ["Mara", "Zoë", "Søren Dahl", "李娜", "Анна", "Dr. Elena Voss"])
def test_names_are_names(entry: str) -> None:
    assert not is_extra(entry)


def only(findings: list[Finding], kind: str) -> list[Finding]:
    assert {f.kind for f in findings} == {kind}, findings
    return findings


BIBLE = {
    "Mara": "a tall woman in a yellow raincoat",
    "Jonas": "a boy with a green cap",
    "Elena Voss": "a grey-haired archivist with a cane",
}


def cast_scene(index: int, names: list[str], speakers: tuple[str, ...] = (), **kw: Any) -> Scene:
    prompt = " ".join(f"{n}: {BIBLE[n]}." for n in BIBLE)  # every look, always
    lines = [Dialogue(speaker=s, line="Over here!") for s in speakers]
    return scene(index, characters=names, dialogues=lines, visual_prompt=prompt, **kw)


def test_unknown_character_names_a_character_or_speaker_missing_from_the_bible() -> None:
    scenes = [
        cast_scene(1, ["Mara", "Jonas"]),
        cast_scene(2, ["Mara", "Tobias"]),
        cast_scene(3, ["Jonas"], speakers=("Greta",)),
        cast_scene(4, ["Tobias"]),  # still not in the bible: each scene that says it
    ]
    found = only(check(script(scenes, bible=BIBLE)), "unknown_character")
    assert [(f.scene, f.evidence) for f in found] == [
        (2, "characters: Mara, Tobias"),
        (3, "dialogue: Greta: Over here!"),
        (4, "characters: Tobias"),
    ]
    assert "Tobias" in found[0].detail and "bible" in found[0].detail
    # without a bible there is nothing to be unknown to
    assert check(script(scenes)) == []


@pytest.mark.parametrize(
    ("told", "written"),
    [("Elena Voss", "Elina"), ("Jonas", "Jonah"), ("Mara", "Marah"), ("Elena Voss", "Elena Vos")],
)
def test_name_variant_of_a_bible_name_is_reported_instead_of_unknown(
    told: str, written: str
) -> None:
    scenes = [cast_scene(1, [told]), cast_scene(2, [written])]
    (found,) = only(check(script(scenes, bible=BIBLE)), "name_variant")
    assert found.scene == 2
    assert found.evidence == f"characters: {written}"
    assert written in found.detail and told in found.detail and "the bible" in found.detail


def test_name_variant_of_a_name_an_earlier_scene_introduced() -> None:
    scenes = [
        scene(1, characters=["Jonas", "Zoë"]),
        scene(2, characters=["Jonas"]),
        scene(3, characters=["Jonah"], dialogues=[Dialogue(speaker="Zoe", line="Run!")]),
        scene(4, characters=["Jonah"]),  # still misspelt: each scene that says it is flagged
    ]
    found = only(check(script(scenes)), "name_variant")
    assert [(f.scene, f.evidence) for f in found] == [
        (3, "characters: Jonah"),
        (3, "dialogue: Zoe: Run!"),
        (4, "characters: Jonah"),
    ]
    assert "Jonas (scene 1)" in found[0].detail
    assert "Zoë (scene 1)" in found[1].detail  # an accent dropped is a second spelling


def test_with_a_bible_a_misspelt_newcomer_is_a_variant_not_a_second_unknown() -> None:
    scenes = [cast_scene(1, ["Mara"]), cast_scene(2, ["Tobias"]), cast_scene(4, ["Tobiah"])]
    found = check(script(scenes, bible=BIBLE))
    assert [(f.scene, f.kind) for f in found] == [(2, "unknown_character"), (4, "name_variant")]
    assert "Tobias (scene 2)" in found[1].detail


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ("Ana", "Anna"),  # names under 4 letters: too often two people
        ("Tom", "Tim"),
        ("李娜", "李雅"),
        ("Alexander", "Alex"),  # a short form
        ("Samuel", "Sam"),
        ("Marco", "Mara"),  # two edits apart
        ("Elena Voss", "Elena"),  # part of the name
        ("Voss", "Dr. Voss"),  # a title
        ("Bill", "William"),  # not close: another name
    ],
)
def test_different_or_shortened_names_are_not_variants(first: str, later: str) -> None:
    scenes = [scene(1, characters=[first]), scene(2, characters=[later])]
    assert check(script(scenes)) == []


def test_names_the_bible_holds_are_never_variants_of_each_other() -> None:
    both = {"Mara": "in yellow", "Maria": "in red"}
    scenes = [scene(1, characters=["Mara", "Maria"], visual_prompt="in yellow, in red")]
    assert check(script(scenes, bible=both)) == []


def test_look_missing_when_the_prompt_does_not_restate_a_bible_look() -> None:
    scenes = [
        # restated in other words of case, spacing and punctuation: fine
        scene(1, characters=["Mara"], visual_prompt="A TALL woman, in a yellow   rain-coat."),
        scene(2, characters=["Captain Mara"], visual_prompt="A woman climbs the stairs."),
        scene(3, characters=["Jonas"], dialogues=[Dialogue(speaker="Mara", line="Wait")],
              visual_prompt="A boy with a green cap runs."),
    ]  # fmt: skip
    found = only(check(script(scenes, bible=BIBLE)), "look_missing")
    assert [f.scene for f in found] == [2, 3]
    assert found[0].evidence == "visual prompt: A woman climbs the stairs."
    assert "Mara" in found[0].detail and BIBLE["Mara"] in found[0].detail
    assert found[1].evidence == "visual prompt: A boy with a green cap runs."


def test_narration_too_long_over_one_point_two_times_the_clip() -> None:
    fits = " ".join(["sea"] * 24)  # 9.6 s at 2.5 words/s: exactly 1.2 x 8 s
    too_long = " ".join(["wind"] * 25)
    in_numbers = "In 1999 " + " ".join(["rain"] * 19) + " 42"  # 1 + 4 + 19 + 2 = 26 words
    scenes = [
        scene(1, narration=fits),
        scene(2, narration=too_long),
        scene(3, narration=in_numbers),
        scene(4, narration=" ".join(["salt"] * 25), duration_s=12),
    ]
    found = only(check(script(scenes)), "narration_too_long")
    assert [f.scene for f in found] == [2, 3]
    assert found[0].evidence == f"narration: {too_long}"
    assert "10.0 s" in found[0].detail and "25 words" in found[0].detail
    assert "8 s" in found[0].detail and "9.6 s" in found[0].detail
    assert "10.4 s" in found[1].detail and "26 words" in found[1].detail


def test_narration_rate_is_configurable_and_by_language() -> None:
    twenty = " ".join(["word"] * 20)
    assert check(script([scene(1, narration=twenty)])) == []
    (slow,) = check(script([scene(1, narration=twenty)]), rate=2.0)
    assert slow.kind == "narration_too_long"
    # 8 s of Chinese holds 48 characters before the 1.2 x allowance runs out
    scenes = [scene(1, narration="灯" * 48), scene(2, narration="灯" * 49)]
    found = only(check(script(scenes, language="zh")), "narration_too_long")
    assert [f.scene for f in found] == [2]
    assert "49 characters" in found[0].detail


def test_repetition_of_a_non_adjacent_scene() -> None:
    told = "Mara finds the brass map hidden behind a loose brick in the lighthouse wall"
    again = "Mara finds the brass map hidden behind a loose stone in the lighthouse wall"
    scenes = [
        scene(1, summary=SUMMARIES[0]),
        scene(2, summary=told),
        scene(3, summary=told),  # the next scene carries on: not a repeat
        scene(4, summary=SUMMARIES[3]),
        scene(5, summary=again),
        scene(6, narration=SUMMARIES[3]),  # narration repeating a summary is no repeat
    ]
    found = only(check(script(scenes)), "repetition")
    assert [(f.scene, f.detail.split("scene ")[1][0]) for f in found] == [(5, "2"), (5, "3")]
    assert found[0].evidence == f"scene 5: {again} | scene 2: {told}"
    assert "summary" in found[0].detail and "93%" in found[0].detail


def test_repetition_in_narration_and_one_finding_a_pair() -> None:
    line = "The storm breaks over the island and the keeper runs for the lamp room"
    scenes = [
        scene(1, narration=line),
        scene(2),
        scene(3, narration=line),  # its summary is another: the narration repeats
        scene(4, summary=SUMMARIES[0], narration=line),  # both repeat scene 1: one finding
    ]
    found = only(check(script(scenes)), "repetition")
    assert [f.scene for f in found] == [3, 4]
    assert found[0].detail == "the narration nearly repeats scene 1's (100% the same)"
    assert found[0].evidence == f"scene 3: {line} | scene 1: {line}"
    assert found[1].detail.startswith("the summary nearly repeats scene 1's")


def test_scenes_telling_different_events_with_one_cast_and_place_are_not_repeats() -> None:
    scenes = [
        scene(1, summary="Mara climbs the lighthouse stairs and finds the map behind a brick"),
        scene(2),
        scene(3, summary="Mara climbs the lighthouse stairs at dawn to watch the towers rise"),
        scene(4),
        scene(5, summary="Mara waits."),
        scene(6),
        scene(7, summary="Mara waits."),  # too short to say anything by chance or not
    ]
    assert check(script(scenes)) == []


def test_counts_and_summary_line() -> None:
    found = [
        Finding(scene=1, kind="name_variant", detail="", evidence=""),
        Finding(scene=2, kind="narration_too_long", detail="", evidence=""),
        Finding(scene=3, kind="name_variant", detail="", evidence=""),
    ]
    assert counts(found) == {
        "unknown_character": 0,
        "name_variant": 2,
        "look_missing": 0,
        "narration_too_long": 1,
        "repetition": 0,
    }
    assert list(counts([])) == list(KINDS)
    assert summary_line(found) == "continuity: 3 findings (2 name_variant, 1 narration_too_long)"
    assert summary_line(found[1:2]) == "continuity: 1 finding (1 narration_too_long)"


def test_findings_come_by_scene_and_an_outline_serves_as_the_bible() -> None:
    scenes = [
        cast_scene(1, ["Mara"], narration=" ".join(["word"] * 30)),
        cast_scene(2, ["Marah", "Tobias"]),
    ]
    plain = json.loads(script(scenes).model_dump_json())
    plain["outline"] = {
        "title": "t",
        "logline": "l",
        "beats": ["a", "b"],
        "characters": [{"name": n, "role": "", "visual_identity": v} for n, v in BIBLE.items()],
    }
    loaded = export.from_json(json.dumps(plain))
    assert loaded.bible is None
    assert [(f.scene, f.kind) for f in check(loaded)] == [
        (1, "narration_too_long"),
        (2, "unknown_character"),
        (2, "name_variant"),
    ]


def test_bible_characters_names_the_people_the_check_asks_a_look_for() -> None:
    bible = Bible(
        characters=[
            Character(name=n, role="", visual_identity=v)
            for n, v in {**BIBLE, "Alexander": "a man in a blue coat", "the Keeper": "old"}.items()
        ]
    )
    names = ["Captain Mara", "Elena", "Alex", "Mara", "Elina", "a fisherwoman", "the Keeper"]
    found = bible_characters(names, bible)
    assert [c.name for c in found] == ["Mara", "Elena Voss", "Alexander", "the Keeper"]


def test_restating_the_looks_bible_characters_names_leaves_no_look_missing() -> None:
    names = ["Captain Mara", "Elena", "Jonas", "the old man"]
    scenes = [scene(1, characters=names, dialogues=[Dialogue(speaker="Dr. Voss", line="No.")])]
    bible = script(scenes, bible=BIBLE).bible
    assert bible is not None
    assert {f.kind for f in check(script(scenes, bible=BIBLE))} == {"look_missing"}
    present = [*names, "Dr. Voss"]
    looks = " ".join(f"{c.name}: {c.visual_identity}." for c in bible_characters(present, bible))
    locked = [scenes[0].model_copy(update={"visual_prompt": looks})]
    assert check(script(locked, bible=BIBLE)) == []


def _all_pairs(scenes: list, language: str) -> list[Finding]:
    """The repetition check as first written: every non-adjacent pair compared."""
    from storygen.core import continuity as c

    fields = ("summary", "narration")
    texts = [[c._units(getattr(s, f), language) for f in fields] for s in scenes]
    matchers = [[c._matcher(u) for u in scene] for scene in texts]
    found = []
    for i, later in enumerate(scenes):
        for j in range(i - 1):
            best, best_ratio = "", 0.0
            for n, field in enumerate(fields):
                ratio = c._ratio(matchers[j][n], texts[i][n])
                if ratio >= c.REPETITION_RATIO and ratio > best_ratio:
                    best, best_ratio = field, ratio
            if best:
                found.append(c._repetition(later, scenes[j], best, best_ratio))
    return found


@pytest.mark.parametrize("seed", range(6))
def test_repetitions_are_found_without_comparing_every_pair(seed: int) -> None:
    # Texts drawn from a small vocabulary, so near-repeats and near-misses around the
    # threshold are common: the candidate filter must keep every pair the full check finds.
    import random

    from storygen.core import continuity as c

    rng = random.Random(seed)
    words = ["mara", "finds", "the", "map", "at", "dawn", "jonas", "rain", "lamp", "sea"]
    base = [[rng.choice(words) for _ in range(rng.randint(3, 14))] for _ in range(12)]
    scenes = []
    for k in range(1, 61):
        summary, narration = list(rng.choice(base)), list(rng.choice(base))
        for text in (summary, narration):
            for _ in range(rng.randint(0, 3)):  # a few words changed: around the threshold
                text[rng.randrange(len(text))] = rng.choice(words)
        scenes.append(
            Scene(
                index=k,
                duration_s=8,
                title=f"T{k}",
                visual_prompt="v",
                narration=" ".join(narration),
                location="l",
                camera="c",
                summary=" ".join(summary),
            )
        )
    expected = _all_pairs(scenes, "en")
    assert len(expected) > 20  # the case is not trivial
    assert list(c._repetitions(scenes, "en")) == expected
