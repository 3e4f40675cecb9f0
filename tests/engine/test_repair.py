"""The repair pass: after the scenes, the flagged ones are written again with full context,
within a budget, in a group of their own; a killed pass resumes without a lost or doubled
scene. Real engine, simulated backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import (
    Generation,
    RunFailedError,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
    generate,
    resume,
)
from storygen.core.continuity import Finding, check, counts
from storygen.core.errors import PermanentError
from storygen.core.models import Bible, Character, SceneDraft, Script
from storygen.engine.attempts import Answer, Single
from storygen.engine.repair import FIXABLE, _Repairing, budget_calls, plan_repairs

IDEA = "A lighthouse keeper finds a map to a drowned city"


def _request(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {"idea": IDEA, "duration_s": 600, "concurrency": 5}
    return ScriptRequest(**{**fields, **kw})  # type: ignore[arg-type]


class Recording(SimulatedBackend):
    """The simulated backend, keeping what each repair call was told. A repair is the only
    call with feedback here: no fault makes a retry."""

    def __init__(self, **kw: object) -> None:
        super().__init__(time_scale=kw.pop("time_scale", FAST), **kw)  # type: ignore[arg-type]
        self.repairs: list[tuple[SceneTask, int, str]] = []

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        if feedback is not None:
            self.repairs.append((task, attempt, feedback))
            self.on_repair(len(self.repairs))
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)

    def on_repair(self, n: int) -> None:
        pass


class KilledAt(Recording):
    """Ctrl-C as the engine meets it, at the ``kill``-th repair call."""

    def __init__(self, kill: int, **kw: object) -> None:
        super().__init__(**kw)
        self.kill = kill

    def on_repair(self, n: int) -> None:
        if n == self.kill:
            raise asyncio.CancelledError


class RefusedAt(Recording):
    """A repair call refused for good (a provider's 400), once."""

    def on_repair(self, n: int) -> None:
        if n == 2:
            raise PermanentError("the provider refused the request")


def _fixable(findings: list[Finding]) -> set[int]:
    return {f.scene for f in findings if f.kind in FIXABLE}


def _lines(run_path: Path) -> list[tuple[int, bool]]:
    """(scene, is a repair row) of every whole checkpoint line, repeats kept."""
    rows = []
    for line in (run_path / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append((data["scene"]["index"], data["timing"].get("repair", False)))
    return rows


# --- the plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "total", "calls"),
    [(0.1, 75, 7), (0.1, 5, 1), (0.001, 600, 1), (0.29, 100, 29), (1.0, 75, 75), (0.5, 3, 1)],
)
def test_the_budget_is_a_share_of_the_scenes_and_at_least_one_call(
    share: float, total: int, calls: int
) -> None:
    assert budget_calls(share, total) == calls


def _finding(scene: int, kind: str) -> Finding:
    return Finding(scene=scene, kind=kind, detail=f"{kind} in {scene}", evidence="")  # type: ignore[arg-type]


def test_the_plan_takes_the_most_findings_first_then_by_index_and_never_a_look() -> None:
    findings = [
        _finding(2, "look_missing"),
        _finding(2, "look_missing"),
        _finding(3, "repetition"),
        _finding(5, "name_variant"),
        _finding(5, "narration_too_long"),
        _finding(7, "unknown_character"),
        _finding(9, "look_missing"),
    ]
    plan = plan_repairs(findings, calls=2)
    assert plan.picks == (5, 3)  # scene 2 has two findings, but only looks
    assert plan.flagged == 3
    assert plan.feedback[5] == "name_variant in 5; narration_too_long in 5"
    assert plan.before == tuple(findings)
    only_looks = plan_repairs([_finding(2, "look_missing"), _finding(4, "look_missing")], 9)
    assert only_looks.picks == () and only_looks.flagged == 0


async def test_a_repair_is_told_why_and_numbered_after_the_first_attempts() -> None:
    seen: list[tuple[int, str | None]] = []

    async def inner(task: SceneTask, attempt: int, feedback: str | None) -> Answer:
        seen.append((attempt, feedback))
        return Single(Generation(SceneDraft.model_construct(), 0, 0))

    task = SceneTask(_request(), 4, 75, 8.0)
    repairing = _Repairing(inner, {4: "Marah is close to Mara"}, {4: 2})
    await repairing(task, 1, None)
    await repairing(task, 2, "the answer was cut off at max_tokens=1500")
    assert seen == [
        (3, "Marah is close to Mara"),
        (4, "the answer was cut off at max_tokens=1500; Marah is close to Mara"),
    ]


# --- the pass in a run ------------------------------------------------------------------


def test_a_batched_run_without_a_bible_has_fewer_findings_within_the_budget() -> None:
    plain = generate(_request(seed=0), Recording(), policy=fast_policy())
    backend = Recording()
    repaired = generate(_request(seed=0, repair=True), backend, policy=fast_policy())
    before, after, meta = plain.findings, repaired.findings, repaired.meta
    assert _fixable(before), "the batched run must have findings to repair"
    assert meta.findings_before == counts(before)  # the scenes as first written
    assert len(after) < len(before) and after == repaired.check()
    assert 1 <= meta.repair_calls <= budget_calls(0.1, 75) == 7
    assert backend.calls == 75 + meta.repair_calls
    assert meta.flagged_scenes == len(_fixable(before))
    changed = {s.index for s, p in zip(repaired.scenes, plain.scenes, strict=True) if s != p}
    assert len(changed) == meta.repaired_scenes >= 1
    assert changed <= _fixable(before)
    # plain runs are as before: no pass, nothing recorded
    assert plain.meta.findings_before is None and plain.meta.repair_calls == 0
    assert not any(t.repair for t in plain.meta.timeline)


def test_each_repair_is_told_the_bible_its_neighbours_and_its_findings() -> None:
    bible = Bible(
        characters=[Character(name="Mara", role="keeper", visual_identity="a yellow raincoat")]
    )

    class Told(Recording):
        async def write_bible(  # type: ignore[override]
            self,
            request: ScriptRequest,
            *,
            attempt: int,
            feedback: str | None = None,
            hedge: int = 0,
        ) -> Generation[Bible]:
            return Generation(bible, 10, 10, 0.0)

    backend = Told()
    request = _request(seed=0, repair=True, bible=True, context_scenes=3)
    script = generate(request, backend, policy=fast_policy())
    before = [f for f in check(_first_written(script)) if f.kind in FIXABLE]
    assert backend.repairs
    for task, attempt, feedback in backend.repairs:
        k, ctx = task.index, task.context
        assert ctx.bible == bible
        assert [i for i, _ in ctx.previous] == list(range(max(1, k - 3), k))
        assert [i for i, _ in ctx.following] == list(range(k + 1, min(75, k + 3) + 1))
        assert feedback == "; ".join(f.detail for f in before if f.scene == k)
        assert attempt == 2  # after the scene's first (and only) attempt: a fresh draw


def _first_written(script: Script) -> Script:
    """The script as its scenes were first written: a run of the same request without the
    pass (the simulator writes the same scenes for the same prompts)."""
    request = script.request.model_copy(update={"repair": False})
    backend = SimulatedBackend(time_scale=0)
    if script.bible is not None:
        bible = script.bible

        class Same(SimulatedBackend):
            async def write_bible(  # type: ignore[override]
                self, request: ScriptRequest, *, attempt: int, **kw: object
            ) -> Generation[Bible]:
                return Generation(bible, 10, 10, 0.0)

        backend = Same(time_scale=0)
    return generate(request, backend, policy=fast_policy())


@pytest.mark.parametrize(("share", "most"), [(0.001, 1), (0.04, 3), (1.0, 75)])
def test_the_budget_bounds_the_calls(share: float, most: int) -> None:
    backend = Recording()
    script = generate(
        _request(seed=1, repair=True, repair_budget=share), backend, policy=fast_policy()
    )
    meta = script.meta
    assert meta.repair_calls == min(most, meta.flagged_scenes) == len(backend.repairs)
    assert sum(t.repair for t in meta.timeline) == meta.repair_calls


def test_look_findings_never_cost_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the look lock off, looks go missing: they count before, yet no call is made for
    a scene whose only findings are looks."""
    bible = Bible(
        characters=[
            Character(name="Mara", role="keeper", visual_identity="a yellow raincoat"),
            Character(name="Jonas", role="brother", visual_identity="a red beard"),
        ]
    )

    class Cast(Recording):
        async def write_bible(  # type: ignore[override]
            self,
            request: ScriptRequest,
            *,
            attempt: int,
            feedback: str | None = None,
            hedge: int = 0,
        ) -> Generation[Bible]:
            return Generation(bible, 10, 10, 0.0)

    def unlocked(draft: SceneDraft, _: Bible) -> SceneDraft:
        return draft

    monkeypatch.setattr("storygen.core.looks.lock_looks", unlocked)  # scenes and repairs
    backend = Cast()
    request = _request(duration_s=160, bible=True, repair=True, repair_budget=1.0)
    script = generate(request, backend, policy=fast_policy())
    before = script.meta.findings_before
    assert before is not None and before["look_missing"] > 0
    repaired = {task.index for task, _, _ in backend.repairs}
    first = check(_first_written_unlocked(script, bible))
    assert repaired == _fixable(first)
    looks_only = {f.scene for f in first if f.kind == "look_missing"} - _fixable(first)
    assert looks_only and not looks_only & repaired


def _first_written_unlocked(script: Script, bible: Bible) -> Script:
    class Same(SimulatedBackend):
        async def write_bible(  # type: ignore[override]
            self, request: ScriptRequest, *, attempt: int, **kw: object
        ) -> Generation[Bible]:
            return Generation(bible, 10, 10, 0.0)

    request = script.request.model_copy(update={"repair": False})
    return generate(request, Same(time_scale=0), policy=fast_policy())


def test_repair_calls_are_a_group_of_their_own_on_the_run_clock(tmp_path: Path) -> None:
    request = _request(seed=0, repair=True, repair_budget=0.2)
    run_dir = RunStore(tmp_path).create(request, SimulatedBackend().settings())
    script = generate(request, Recording(), policy=fast_policy(), run_dir=run_dir)
    meta = script.meta
    scenes = [t for t in meta.timeline if not t.repair]
    rows = [t for t in meta.timeline if t.repair]
    assert [t.index for t in scenes] == list(range(1, 76))
    assert len(rows) == meta.repair_calls == 15
    assert {t.group for t in rows} == {max(t.group for t in scenes) + 1} == {16}
    last_scene = max(t.end_s for t in scenes)
    assert all(last_scene <= t.start_s <= t.end_s <= meta.wall_time_s for t in rows)
    # in parallel, never more than the run's concurrency at once
    edges = sorted([(t.start_s, 1) for t in rows] + [(t.end_s, -1) for t in rows])
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    assert 1 < peak <= 5
    saved = json.loads((run_dir.path / "timeline.json").read_text(encoding="utf-8"))
    assert sum(row["repair"] for row in saved) == 15
    assert run_dir.status()["status"] == "finished"


def test_a_killed_repair_resumes_to_the_same_scenes_none_lost_or_written_twice(
    tmp_path: Path,
) -> None:
    request = _request(seed=0, repair=True)
    whole = generate(request, Recording(), policy=fast_policy())
    calls = whole.meta.repair_calls
    assert calls == 7

    killed = KilledAt(kill=6)  # after the first five (the concurrency) began
    run_dir = RunStore(tmp_path).create(request, killed.settings())
    with pytest.raises(asyncio.CancelledError):
        generate(request, killed, policy=fast_policy(), run_dir=run_dir)
    status = run_dir.status()
    assert status["status"] == "interrupted" and status["scenes_done"] == 75
    lines = _lines(run_dir.path)
    done = [k for k, repair in lines if repair]
    assert 1 <= len(done) < calls

    again = Recording()
    script = resume(run_dir, backend=again, policy=fast_policy())
    assert len(again.repairs) == calls - len(done) == again.calls  # no scene written again
    assert not {task.index for task, _, _ in again.repairs} & set(done)
    lines = _lines(run_dir.path)
    assert len(lines) == 75 + calls
    assert sorted(k for k, repair in lines if not repair) == list(range(1, 76))
    repaired = [k for k, repair in lines if repair]
    assert len(set(repaired)) == len(repaired) == calls
    assert script.scenes == whole.scenes and script.findings == whole.findings
    assert script.meta.repair_calls == calls
    assert script.meta.findings_before == whole.meta.findings_before
    assert script.meta.repaired_scenes == whole.meta.repaired_scenes
    assert [s for s, _ in sorted(run_dir.load_checkpoint().items())] == list(range(1, 76))
    assert [s for _, (s, _) in sorted(run_dir.load_checkpoint().items())] == script.scenes


def test_a_repair_refused_for_good_fails_the_run_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    request = _request(
        seed=2, repair=True, repair_budget=1.0, strategy="sequential", duration_s=240
    )
    refused = RefusedAt()
    run_dir = RunStore(tmp_path).create(request, refused.settings())
    with pytest.raises(RunFailedError, match=r"the repair of scene \d+ failed: permanent error"):
        generate(request, refused, policy=fast_policy(), run_dir=run_dir)
    assert run_dir.status()["status"] == "failed"
    assert len([k for k, repair in _lines(run_dir.path) if repair]) == 1  # one at a time
    script = resume(run_dir, backend=Recording(), policy=fast_policy())
    assert [s.index for s in script.scenes] == list(range(1, 31))
    assert script.meta.repair_calls == script.meta.flagged_scenes == 2


def test_compare_gives_every_lane_the_pass_when_asked() -> None:
    from storygen import compare

    request = _request(duration_s=160, seed=1)
    on = compare(request, batch_sizes=(5,), time_scale=0, progress=False, repair=True)
    assert all(s.request.repair and s.meta.findings_before is not None for s in on.scripts.values())
    off = compare(on.request, batch_sizes=(5,), time_scale=0, progress=False, repair=False)
    assert not any(s.request.repair or s.meta.repair_calls for s in off.scripts.values())
