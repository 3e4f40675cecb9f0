"""The simulated LLM knows only its prompt: what it is told it keeps, what it is not told it
invents per call, as a real model does; serve-sim writes the same text for the same prompt."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from conftest import Serve, fast_policy

from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.backends.simulated_cast import NAME_GROUPS
from storygen.backends.simulated_idea import read_idea
from storygen.backends.simulated_text import write_scene
from storygen.core.continuity import check
from storygen.core.models import Bible, Character, SceneDraft
from storygen.core.narration import spoken_units, word_budget
from storygen.core.prompts import (
    SYSTEM,
    bible_prompt,
    json_instruction,
    outline_prompt,
    parse_prompt,
    scene_prompt,
)
from storygen.core.tasks import SceneContext, SceneTask
from storygen.sim.chat import complete_chat, read_chat
from tests.backends.test_simulated_text import bible, outline, scene

IDEA = "A lighthouse keeper finds a map to a drowned city"
BIBLE = Bible(
    characters=[
        Character(name="Søren", role="lighthouse keeper", visual_identity="tall man, red beard"),
        Character(name="Zoë Park", role="diver", visual_identity="short woman, green wetsuit"),
        Character(name="李娜", role="cartographer", visual_identity="slender woman, round glasses"),
    ],
    setting="A storm-beaten island lighthouse, in the present day.",
    objects=["a brass map", "a cracked lantern"],
)


def _req(**fields: object) -> ScriptRequest:
    return ScriptRequest(**{"idea": IDEA, "duration_s": 600, **fields})


def _task(req: ScriptRequest, k: int, ctx: SceneContext | None = None, s: float = 8.0) -> SceneTask:
    return SceneTask(req, k, 75, s, ctx or SceneContext())


def _names(drafts: list[SceneDraft]) -> set[str]:
    return {n for d in drafts for n in (*d.characters, *(x.speaker for x in d.dialogues))}


def test_the_prompt_round_trips_bible_summaries_and_budget() -> None:
    req = _req(language="fr")
    ctx = SceneContext(previous=((3, "Søren part"),), following=((5, "Zoë revient"),), bible=BIBLE)
    call = parse_prompt(scene_prompt(_task(req, 4, ctx, 6.0)), seed=3)
    assert call is not None and call.kind == "scene" and call.request.seed == 3
    assert call.context.bible == BIBLE
    assert call.context.previous == ctx.previous and call.context.following == ctx.following
    assert call.budget == word_budget(6.0, "fr") == 15
    told = parse_prompt(bible_prompt(req))
    assert told is not None and told.kind == "bible" and told.total == req.scene_count
    assert parse_prompt(scene_prompt(_task(req, 4))).context.bible is None  # type: ignore[union-attr]


def test_what_the_prompt_does_not_say_does_not_change_the_answer() -> None:
    """No hidden state: the request's other fields and the outline beyond what the prompt
    quotes are invisible to the simulated LLM."""
    plan = outline(_req(seed=1), 20)
    ctx = SceneContext(outline=plan, bible=plan.bible, beat=plan.beats[6])
    other_plan = plan.model_copy(update={"beats": ["Something else."] * 20})
    hidden = SceneContext(outline=other_plan, bible=plan.bible, beat=plan.beats[6])
    changed = _req(seed=1, strategy="windowed", concurrency=7, context_scenes=2, duration_s=90)
    assert scene(_task(_req(seed=1), 7, ctx)) == scene(_task(changed, 7, hidden))


def _body(prompt: str, kind: str, seed: int) -> dict[str, object]:
    user = f"{prompt}\n\n{json_instruction(kind)}"  # type: ignore[arg-type]
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    return {"model": "storygen-sim-1", "seed": seed, "messages": messages}


@pytest.mark.parametrize("attempt", [1, 2])
def test_serve_sim_writes_what_the_backend_writes(attempt: int) -> None:
    req = _req(seed=5, bible=True)
    backend = SimulatedBackend(time_scale=0)
    task = _task(req, 3, SceneContext(previous=((2, "Noor waits at the harbor market"),)))

    async def answers() -> list[str]:
        written = [
            await backend.write_outline(req, 75, attempt=attempt),
            await backend.write_bible(req, attempt=attempt),
            await backend.write_scene(task, attempt=attempt),
        ]
        return [g.value.model_dump_json() for g in written]

    prompts = [
        (outline_prompt(req, 75), "outline"),
        (bible_prompt(req), "bible"),
        (scene_prompt(task), "scene"),
    ]
    served = []
    for prompt, kind in prompts:
        chat = read_chat(_body(prompt, kind, 5))
        assert chat.call == ("scene3" if kind == "scene" else kind)
        answer = complete_chat(chat, "ok", "id", 0, attempt)
        served.append(answer["choices"][0]["message"]["content"])
    assert served == asyncio.run(answers())


def test_a_first_batch_told_nothing_invents_a_cast_per_call() -> None:
    for seed in range(5):
        first = [scene(_task(_req(seed=seed), k)) for k in range(1, 6)]
        assert len({frozenset(d.characters) for d in first}) >= 3


def test_a_retry_draws_afresh_but_keeps_what_it_was_told() -> None:
    req = _req(seed=2)
    differs = [
        scene(_task(req, k), 1).characters != scene(_task(req, k), 2).characters
        for k in range(1, 9)
    ]
    assert sum(differs) >= 4
    told = SceneContext(bible=BIBLE)
    names = {c.name for c in BIBLE.characters}
    for attempt in (1, 2, 3):
        assert set(scene(_task(req, 4, told), attempt).characters) <= names


def test_a_bible_is_kept_exactly_names_looks_and_objects() -> None:
    names = {c.name: c.visual_identity for c in BIBLE.characters}
    drafts = [
        scene(_task(_req(seed=s), k, SceneContext(bible=BIBLE)))
        for s in range(3)
        for k in range(1, 26)
    ]
    assert _names(drafts) <= set(names)
    for d in drafts:
        assert f"{d.characters[0]} ({names[d.characters[0]]})" in d.visual_prompt
        assert all(n in d.summary for n in d.characters)  # later scenes learn who was there
    told_objects = sum(any(o in d.summary for o in BIBLE.objects) for d in drafts)
    assert told_objects >= len(drafts) // 2


def test_people_named_in_earlier_summaries_are_kept_without_variants() -> None:
    ctx = SceneContext(
        previous=((1, "Ravi finds the map in the city archive, with Iris"), (2, "Iris hides it"))
    )
    drafts = [scene(_task(_req(seed=s), k, ctx)) for s in range(4) for k in range(3, 13)]
    assert _names(drafts) == {"Ravi", "Iris"}


def test_a_sequential_story_keeps_the_people_its_first_scene_named() -> None:
    for seed in range(3):
        req = _req(seed=seed, duration_s=240, strategy="sequential", concurrency=1)
        script = generate(req, SimulatedBackend(time_scale=0))
        assert _names(script.scenes) <= set(script.scenes[0].characters)
        assert not [f for f in check(script) if f.kind in ("name_variant", "narration_too_long")]


def test_batch_one_disagrees_without_a_bible_and_agrees_with_one() -> None:
    variants, cast_kinds = 0, {"unknown_character", "name_variant", "look_missing"}
    for seed in range(3):
        req = _req(seed=seed, duration_s=240, strategy="batched", concurrency=5)
        loose = generate(req, SimulatedBackend(time_scale=0))
        first = [set(d.characters) for d in loose.scenes[:5]]
        assert len(set().union(*first)) > max(len(c) for c in first)
        variants += sum(f.kind == "name_variant" for f in check(loose))
        held = generate(req.model_copy(update={"bible": True}), SimulatedBackend(time_scale=0))
        assert held.bible is not None
        assert _names(held.scenes) <= {c.name for c in held.bible.characters}
        assert not [f for f in check(held) if f.kind in cast_kinds]
    assert variants > 0


def _scripted(names: list[str]) -> SimpleNamespace:
    scenes = [
        SimpleNamespace(
            index=i,
            duration_s=8.0,
            characters=[n],
            dialogues=[],
            visual_prompt="v",
            narration=f"Scene {i} happens.",
            summary=f"{n} does thing {i}",
        )
        for i, n in enumerate(names, start=1)
    ]
    return SimpleNamespace(
        scenes=scenes, bible=None, outline=None, request=SimpleNamespace(language="en")
    )


def test_invented_spellings_are_variants_only_of_their_own_name() -> None:
    """Two calls that spell one name two ways are what the check calls a name_variant;
    two different names from the pool never are."""
    for group in NAME_GROUPS:
        for spelling in group[1:]:
            kinds = [f.kind for f in check(_scripted([group[0], spelling]))]  # type: ignore[arg-type]
            assert kinds == ["name_variant"], (group, spelling)
    spellings = [(g, s) for g, group in enumerate(NAME_GROUPS) for s in group]
    for g, a in spellings:
        for h, b in spellings:
            if g < h:
                assert not check(_scripted([a, b])), (a, b)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [2.0, 4.0, 8.0, 12.0])
@pytest.mark.parametrize("language", ["en", "de", "zh"])
def test_narration_obeys_the_budget_its_prompt_states(seconds: float, language: str) -> None:
    budget = word_budget(seconds, language)
    for k in range(1, 41):
        ctx = SceneContext(
            previous=((k - 1, "Mara finds the map in the old lighthouse, with Elias"),)
        )
        written = scene(_task(_req(seed=k, language=language), k, ctx, seconds))
        assert 0 < spoken_units(written.narration, language) <= budget


def test_told_no_budget_a_quarter_of_narrations_run_long() -> None:
    req, units = _req(), []
    worth = word_budget(8.0, "en")
    for k in range(1, 401):
        text = scene_prompt(_task(req.model_copy(update={"seed": k}), k % 75 + 1))
        bare = "\n".join(x for x in text.splitlines() if not x.startswith("Narration: at most"))
        call = parse_prompt(bare, k)
        assert call is not None and call.budget is None
        units.append(spoken_units(write_scene(call, 1).narration, "en"))
    long = sum(u >= 1.5 * worth for u in units)
    assert 0.15 * len(units) <= long <= 0.35 * len(units)
    assert all(u <= worth or u >= 1.5 * worth for u in units)


@pytest.mark.parametrize(
    ("idea", "subject", "place"),
    [
        ("A fox opens a bakery", "fox", "bakery"),
        ("A dragon guards a library", "dragon", "library"),
        (IDEA, "lighthouse keeper", "drowned city"),
        ("Two sisters inherit a haunted vineyard", "sister", "haunted vineyard"),
        ("A retired astronaut opens a noodle shop in Osaka", "retired astronaut", "noodle shop"),
        ("An old sailor builds a boat on a frozen lake", "old sailor", "frozen lake"),
        ("A robot learns to paint in Paris", "robot", "Paris"),
    ],
)
def test_the_ideas_own_subject_and_place_are_in_the_story(
    idea: str, subject: str, place: str
) -> None:
    facts = read_idea(idea, "en")
    assert (facts.subject, facts.place) == (subject, place)
    req = ScriptRequest(idea=idea, duration_s=240, seed=1)
    told = bible(req)
    assert told.characters[0].role == subject and place in told.setting
    assert subject in told.characters[0].visual_identity
    script = generate(req, SimulatedBackend(time_scale=0))
    assert sum(subject in d.narration or subject in d.title for d in script.scenes) >= 3
    assert sum(d.location.lower() == place.lower() for d in script.scenes) >= 3


@pytest.mark.parametrize(
    ("language", "idea", "place", "english"),
    [
        ("es", "Un zorro abre una panadería", "Panadería", " the "),
        ("fr", "Un renard ouvre une boulangerie", "Boulangerie", " the "),
        ("de", "Ein Fuchs eröffnet eine Bäckerei", "Bäckerei", " the "),
    ],
)
def test_other_languages_still_read(language: str, idea: str, place: str, english: str) -> None:
    req = ScriptRequest(idea=idea, duration_s=160, seed=2, language=language)
    assert idea in outline(req, 20).logline  # the idea quoted as given
    script = generate(req, SimulatedBackend(time_scale=0))
    assert sum(d.location == place for d in script.scenes) >= 3
    for d in script.scenes:
        assert english not in f" {d.narration} {d.summary} "
        assert spoken_units(d.narration, language) <= word_budget(d.duration_s, language)


def test_the_seed_decides_everything_and_two_ideas_draw_apart() -> None:
    """Bulk runs share a seed across ideas: the idea is in the draw, so they do not share
    one invented cast."""
    a = generate(_req(seed=4, duration_s=80), SimulatedBackend(time_scale=0))
    b = generate(_req(seed=4, duration_s=80), SimulatedBackend(time_scale=0))
    assert a.scenes == b.scenes
    other = _req(seed=4, duration_s=80, idea="A dragon guards a library")
    firsts = [scene(_task(_req(seed=s), 1)).characters for s in range(5)]
    assert firsts != [
        scene(_task(other.model_copy(update={"seed": s}), 1)).characters for s in range(5)
    ]


@pytest.mark.parametrize(("strategy", "bible_on"), [("batched", True), ("outline", False)])
def test_serve_sim_over_http_writes_the_in_process_script(
    serve: Serve, strategy: str, bible_on: bool
) -> None:
    """The same prompts over real HTTP, the same text: serve-sim reads them as the
    in-process backend does (bible and outline calls included)."""
    server = serve()
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model="storygen-sim-1", api_keys=["sk-sim-0123456789"]
    )
    req = _req(seed=6, duration_s=48, strategy=strategy, concurrency=3, bible=bible_on)
    over_http = generate(req, OpenAIBackend(config), policy=fast_policy())
    in_process = generate(req, SimulatedBackend(time_scale=0))
    assert over_http.bible == in_process.bible and over_http.outline == in_process.outline
    assert over_http.scenes == in_process.scenes
