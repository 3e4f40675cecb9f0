"""The spend guard: what a run is expected to cost before it starts, and a cap on what it
spends as it goes.

The estimate counts the calls a run plans (its scenes, the outline or story bible call,
the repair budget and the hedging budget, each at most) at the tokens one of storygen's
prompts and answers is expected to hold (``core.prompts``, ``core.answer_size``), priced
from the table in force (``core.pricing``). The cap counts what the answers' usage says
they cost: the engine asks it before starting a scene, and a run that reached it starts
no more calls and is marked interrupted, keeping every scene (``resume`` finishes it).

A cap bounds what one command spends: a resume, or a bulk run of many rows, counts the
calls it makes itself (a bulk run's across all its rows, together).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from storygen.core.answer_size import expected_tokens
from storygen.core.errors import InvalidRequestError, RunFailedError
from storygen.core.models import ScriptRequest
from storygen.core.planning import budget_calls
from storygen.core.pricing import Price, estimate_cost, is_simulated, price_of
from storygen.core.prompts import (
    BIBLE_TEXT,
    SYSTEM,
    Kind,
    bible_prompt,
    estimate_tokens,
    json_instruction,
    outline_prompt,
    scene_prompt,
)
from storygen.core.tasks import SceneTask

# Words of one summary a later scene's prompt quotes (answer_size.SCENE_WORDS' "summary").
SUMMARY_TOKENS = 45


def priced(model: str, prices: Mapping[str, Price] | None = None) -> bool:
    """Whether calls to ``model`` cost money we can price: a simulated model is free."""
    return not is_simulated(model) and price_of(model, prices) is not None


@dataclass(frozen=True)
class Estimate:
    """The calls a run plans and what they are expected to cost (None: no price)."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float | None

    @classmethod
    def total(cls, parts: list[Estimate]) -> Estimate:
        """Several runs' estimates as one (a bulk run's cap is one total)."""
        return cls(
            sum(e.calls for e in parts),
            sum(e.prompt_tokens for e in parts),
            sum(e.completion_tokens for e in parts),
            sum(e.usd or 0.0 for e in parts),
        )

    def line(self, model: str) -> str:
        cost = "n/a (not in the price table)" if self.usd is None else f"${self.usd:.4f}"
        plural = "s" if self.calls != 1 else ""
        return f"estimated cost on {model}: {cost} for {self.calls} call{plural} at most"


def unpriced(model: str) -> str:
    """Why a spend cap cannot be kept on ``model``: the CLI and the app say it alike."""
    return (
        f"{model} is not in the price table, so what it spends cannot be counted; "
        "give its price in a STORYGEN_PRICES file"
    )


def _prompt(text: str) -> int:
    """A call's input: the system message, the prompt and the JSON instruction."""
    return estimate_tokens(f"{SYSTEM}\n{text}\n\n")


def estimate(
    request: ScriptRequest,
    model: str,
    *,
    done: int = 0,
    plan_done: bool = False,
    prices: Mapping[str, Price] | None = None,
) -> Estimate:
    """What writing ``request`` (its scenes not yet ``done``) is expected to cost on
    ``model``. ``plan_done``: the outline or bible call was already made."""
    total, language = request.scene_count, request.language
    left = max(0, total - done)
    calls = prompt = completion = 0
    outline = request.strategy == "outline"
    if not plan_done and (outline or request.bible) and left:
        kind: Kind = "outline" if outline else "bible"
        text = outline_prompt(request, total) if outline else bible_prompt(request)
        calls += 1
        prompt += _prompt(text) + estimate_tokens(json_instruction(kind))
        completion += expected_tokens(kind, language, scenes=total)
    task = SceneTask(request, total, total, request.seconds_per_scene)
    per_scene = _prompt(scene_prompt(task)) + estimate_tokens(json_instruction("scene"))
    per_scene += request.context_scenes * SUMMARY_TOKENS
    per_scene += BIBLE_TEXT // 4 if (outline or request.bible) else 0
    answer = expected_tokens("scene", language, duration_s=request.seconds_per_scene)
    scenes = left
    if request.hedge is not None and request.hedge.budget > 0 and left:
        scenes += max(1, math.floor(request.hedge.budget * left))
    if request.repair:
        scenes += budget_calls(request.repair_budget, total)
    calls += scenes
    prompt += scenes * per_scene
    completion += scenes * answer
    usd = estimate_cost(model, prompt, completion, prices) if not is_simulated(model) else None
    return Estimate(calls, prompt, completion, usd)


class SpendCapReached(RunFailedError):
    """The run spent its cap: it started no more calls, is marked interrupted on disk and
    keeps every scene; resuming it (with a higher cap) finishes it."""


class SpendCap:
    """What one command may spend on ``model``, in USD, shared by every run it writes; the
    engine adds each answer's usage and asks ``reached`` before starting a scene.
    ``SpendCap.none()`` never stops (the engine never asks whether there is a cap)."""

    def __init__(
        self, cap_usd: float | None, model: str = "", prices: Mapping[str, Price] | None = None
    ) -> None:
        if cap_usd is not None and not (cap_usd >= 0 and math.isfinite(cap_usd)):
            raise InvalidRequestError(f"max cost must be 0 USD or more (got {cap_usd})", "max_cost")
        self.cap_usd, self.model, self.prices = cap_usd, model, prices
        self.spent_usd = 0.0
        self.calls = 0

    @classmethod
    def none(cls) -> SpendCap:
        return cls(None)

    def add(self, prompt_tokens: int, completion_tokens: int, calls: int = 1) -> None:
        """Answers came back with this usage; an unpriced model's cost nothing we can tell."""
        self.calls += calls
        if self.cap_usd is None:
            return
        cost = estimate_cost(self.model, prompt_tokens, completion_tokens, self.prices)
        self.spent_usd += cost or 0.0

    @property
    def reached(self) -> bool:
        return self.cap_usd is not None and self.spent_usd >= self.cap_usd

    def message(self, done: int, total: int) -> str:
        return (
            f"spend cap reached: spent ${self.spent_usd:.4f} of --max-cost ${self.cap_usd:.4f}; "
            f"{done} of {total} scenes kept; resume with a higher --max-cost to finish"
        )


def in_app_words(message: str) -> str:
    """A spend-cap message as the dashboard says it: its cap is the sidebar's spend cap
    field, not the CLI's --max-cost flag."""
    return message.replace("a higher --max-cost", "a higher spend cap").replace(
        "--max-cost", "the spend cap"
    )


def check_estimate(est: Estimate, cap_usd: float | None) -> None:
    """Refuse, before any call, a run whose estimate is over the cap."""
    if cap_usd is None or est.usd is None or est.usd <= cap_usd:
        return
    plural = "s" if est.calls != 1 else ""
    raise InvalidRequestError(
        f"estimated ${est.usd:.4f} for {est.calls} call{plural} is over --max-cost ${cap_usd:.4f}",
        "max_cost",
    )
