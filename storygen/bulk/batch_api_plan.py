"""Which calls go into the next Batch API round, worked out from what the run store holds.

A Batch API job returns hours later, so a strategy fits only if each call's context is
known when its round is sent:

- outline: round 1 is every script's outline; round 2 every scene, each with its outline,
  its beat and its neighbours' beats.
- batched(B): round r is batch r of every script, each scene with the summaries of the
  scenes before its batch, as in a live batched run.

Windowed and sequential runs need the previous answer before the next call: refused; so
are pipelined runs, which need it while it streams (a batch job never streams). So is a
story bible call (``bible`` rows) for batched runs, for now: it would be a round of its
own; an outline run needs none, its outline is its bible.
Planning from the store (not from memory) makes a restarted process plan the same rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from storygen.core.errors import InvalidRequestError
from storygen.core.models import Outline, Scene, ScriptRequest
from storygen.core.planning import scene_durations
from storygen.core.prompts import outline_prompt, scene_prompt
from storygen.core.tasks import SceneTask, scene_context

BATCH_STRATEGIES = ("outline", "batched")
PIPELINED_REFUSAL = (
    "a batch job cannot stream, so pipelined cannot start a scene on its predecessor's "
    "summary; use outline or batched"
)


def check_batchable(request: ScriptRequest) -> None:
    """Only strategies whose calls of one round need nothing from each other."""
    bible_call = request.bible and request.strategy != "outline"
    plain = request.adaptive is None and not bible_call and not request.repair
    if request.strategy in BATCH_STRATEGIES and plain:
        return
    if request.strategy == "pipelined":
        why = PIPELINED_REFUSAL
    elif request.adaptive is not None:
        why = "adaptive concurrency needs answers as they come"
    elif request.repair:
        why = "the repair pass is not sent through the Batch API yet"
    elif request.strategy in BATCH_STRATEGIES:
        why = "a story bible call is not sent through the Batch API yet; an outline is one"
    else:
        why = (
            f"{request.strategy} needs each scene's predecessors written before it starts, "
            "and a Batch API job returns its answers only hours later"
        )
    raise InvalidRequestError(
        f"--via batch-api takes the outline or batched strategy only ({why}); "
        "use --via live for this row",
        "strategy",
    )


@dataclass(frozen=True)
class Planned:
    """One call of a round: ``custom_id`` names the row and the call, unique in a bulk run."""

    custom_id: str
    row: int
    index: int  # 0 for the outline
    kind: str  # "outline" or "scene"
    prompt: str
    seed: int
    context_size: int = 0
    context_lag: int = 0
    had_outline: bool = False


@dataclass
class ScriptState:
    """A script as the store holds it."""

    row: int
    request: ScriptRequest
    outline: Outline | None
    scenes: dict[int, Scene]
    given_up: bool = False  # a call failed for good: nothing more is planned for it

    @property
    def total(self) -> int:
        return self.request.scene_count

    @property
    def finished(self) -> bool:
        needs_outline = self.request.strategy == "outline"
        done = len(self.scenes) == self.total
        return done and (self.outline is not None or not needs_outline)


def custom_id(row: int, index: int) -> str:
    return f"row{row}-outline" if index == 0 else f"row{row}-scene{index}"


def parse_custom_id(text: str) -> tuple[int, int]:
    """(row, index) from a custom_id; ValueError for one we did not send."""
    row, _, call = text.removeprefix("row").partition("-")
    if call == "outline":
        return int(row), 0
    if call.startswith("scene"):
        return int(row), int(call.removeprefix("scene"))
    raise ValueError(f"not a storygen custom_id: {text!r}")


def context_upto(request: ScriptRequest, k: int) -> int:
    """The last scene whose summary scene k's call is sent with: none for outline (the plan
    is its context), the scene before its batch for batched, as in a live batched run."""
    if request.strategy != "batched":
        return 0
    return ((k - 1) // request.concurrency) * request.concurrency


def _scene(state: ScriptState, k: int) -> Planned:
    request, outline = state.request, state.outline
    upto = context_upto(request, k)
    context = scene_context(k, upto, state.scenes, request.context_scenes, outline)
    duration = scene_durations(request.duration_s, request.seconds_per_scene)[k - 1]
    task = SceneTask(request, k, state.total, duration, context)
    return Planned(
        custom_id(state.row, k),
        state.row,
        k,
        "scene",
        scene_prompt(task),
        request.seed,
        context_size=len(context.previous),
        context_lag=k - 1 - upto,
        had_outline=outline is not None,
    )


def next_calls(state: ScriptState) -> list[Planned]:
    """The calls of this script's next round; empty when finished or given up."""
    if state.given_up or state.finished:
        return []
    request = state.request
    missing = [k for k in range(1, state.total + 1) if k not in state.scenes]
    if request.strategy == "outline":
        if state.outline is None:
            prompt = outline_prompt(request, state.total)
            return [Planned(custom_id(state.row, 0), state.row, 0, "outline", prompt, request.seed)]
        return [_scene(state, k) for k in missing]
    end = context_upto(request, missing[0]) + request.concurrency  # batched: its first gap
    return [_scene(state, k) for k in missing if k <= end]


def plan_round(states: list[ScriptState]) -> list[Planned]:
    """Every script's next calls, in one round."""
    return [call for state in states for call in next_calls(state)]
