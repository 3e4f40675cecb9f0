"""The embedded simulated LLM: no key, no network, realistic latencies and faults.

Latencies are drawn from (seed, call, attempt) alone, so every strategy meets the
same latencies and their comparison is fair (common random numbers).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Iterable

from storygen.backends.base import Generation, SceneTask
from storygen.backends.simulated_text import make_outline, make_scene
from storygen.errors import (
    InvalidRequestError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from storygen.models import Outline, SceneDraft, ScriptRequest
from storygen.prompts import SYSTEM, estimate_tokens, outline_prompt, scene_prompt

SIM_MODEL = "storygen-sim-1"


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high) or math.isnan(value):
        raise InvalidRequestError(
            f"{name} must be between {low:g} and {high:g} (got {value})", name
        )


def draw_latency(
    seed: int, call: str, attempt: int, median_s: float = 8.0, sigma: float = 0.35
) -> float:
    """Lognormal call latency in unscaled seconds, keyed on (seed, call, attempt)."""
    rng = random.Random(f"{seed}:{call}:{attempt}")
    return median_s * math.exp(sigma * rng.gauss(0.0, 1.0))


class SimulatedBackend:
    """Writes from a template grammar; waits ``latency x time_scale`` per call."""

    name = "simulated"

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        median_s: float = 8.0,
        sigma: float = 0.35,
        error_rate: float = 0.0,
        rpm: int | None = None,
        fail_scenes: Iterable[int] = (),
        model: str = SIM_MODEL,
    ) -> None:
        _check("time_scale", time_scale, 0.0, 100.0)
        _check("median_s", median_s, 0.0, 600.0)
        _check("sigma", sigma, 0.0, 3.0)
        _check("error_rate", error_rate, 0.0, 0.9)
        if rpm is not None:
            _check("rpm", rpm, 1, 1_000_000)
        self.time_scale = time_scale
        self.median_s = median_s
        self.sigma = sigma
        self.error_rate = error_rate
        self.rpm = rpm
        self.fail_scenes = frozenset(fail_scenes)
        self.model = model
        self._recent: deque[float] = deque()
        self.calls = 0

    def settings(self) -> dict[str, object]:
        """Permanent failures are a one-shot test fault and are deliberately not saved."""
        return {
            "kind": self.name,
            "model": self.model,
            "time_scale": self.time_scale,
            "median_s": self.median_s,
            "sigma": self.sigma,
            "error_rate": self.error_rate,
            "sim_rpm": self.rpm,
        }

    def latency(self, seed: int, call: str, attempt: int) -> float:
        """Scaled seconds this call will take."""
        return draw_latency(seed, call, attempt, self.median_s, self.sigma) * self.time_scale

    def _admit(self) -> None:
        """A sliding one-minute window (in simulated time) answering 429s with Retry-After."""
        self.calls += 1
        if self.rpm is None:
            return
        window = 60.0 * self.time_scale
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        if len(self._recent) >= self.rpm:
            wait = self._recent[0] + window - now
            raise RateLimitedError(
                f"rate limit of {self.rpm} requests per minute reached",
                retry_after=wait,
            )
        self._recent.append(now)

    async def _serve(self, seed: int, call: str, attempt: int) -> float:
        self._admit()
        delay = self.latency(seed, call, attempt)
        fault = random.Random(f"{seed}:{call}:{attempt}:fault").random() < self.error_rate
        await asyncio.sleep(delay * (0.5 if fault else 1.0))
        if fault:
            raise TransientError(f"simulated server error (503) on {call}, attempt {attempt}")
        return delay

    async def write_outline(
        self,
        request: ScriptRequest,
        total: int,
        *,
        attempt: int,
        feedback: str | None = None,
    ) -> Generation[Outline]:
        delay = await self._serve(request.seed, "outline", attempt)
        outline = make_outline(request, total)
        return Generation(
            outline,
            prompt_tokens=estimate_tokens(SYSTEM) + estimate_tokens(outline_prompt(request, total)),
            completion_tokens=estimate_tokens(outline.model_dump_json()),
            latency_s=delay,
        )

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None
    ) -> Generation[SceneDraft]:
        if task.index in self.fail_scenes:
            self._admit()
            raise PermanentError(f"simulated permanent failure of scene {task.index}")
        delay = await self._serve(task.request.seed, f"scene{task.index}", attempt)
        draft = make_scene(task)
        return Generation(
            draft,
            prompt_tokens=estimate_tokens(SYSTEM) + estimate_tokens(scene_prompt(task)),
            completion_tokens=estimate_tokens(draft.model_dump_json()),
            latency_s=delay,
        )
