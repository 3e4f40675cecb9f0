"""The calls made once before any scene: the outline (plan-then-write) or the story bible.

Each is retried like a scene's call, passes the outline's admission layers (no scene runs
beside it), is saved the moment it is answered, and is then reused by a resumed run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from storygen.core.errors import MalformedOutputError
from storygen.core.models import Bible, Outline, RunMeta, ScriptRequest
from storygen.core.tasks import Backend, Generation
from storygen.engine.admission import Layer, through
from storygen.engine.scenes import NotStarted
from storygen.engine.sinks import Sink
from storygen.policies.retry import RetryPolicy, call_with_retries

T = TypeVar("T")


class PlanCalls:
    """Writes the outline or the bible, and notes when and at what cost in the run's meta."""

    def __init__(
        self,
        request: ScriptRequest,
        backend: Backend,
        policy: RetryPolicy,
        layers: Sequence[Layer],
        sink: Sink,
        clock: Callable[[], float],
        may_start: Callable[[], bool],
    ) -> None:
        """``may_start``: asked once the first attempt holds its slot; False raises
        NotStarted (a spend cap spent while it waited), no call made."""
        self.request, self.backend, self.policy = request, backend, policy
        self.may_start = may_start
        self.layers, self.sink, self.clock = through(layers), sink, clock
        self.total = request.scene_count

    async def _once(
        self, call: Callable[[int, str | None], Awaitable[Generation[T]]]
    ) -> tuple[Generation[T], float, float]:
        start = self.clock()
        gen, _ = await call_with_retries(self.policy, call)
        return gen, start, self.clock()

    async def outline(self, meta: RunMeta) -> Outline:
        gen, meta.outline_start_s, meta.outline_end_s = await self._once(self._outline_call)
        self.sink.save_outline(gen.value)
        meta.outline_prompt_tokens = gen.prompt_tokens
        meta.outline_completion_tokens = gen.completion_tokens
        return gen.value

    async def bible(self, meta: RunMeta) -> Bible:
        gen, meta.bible_start_s, meta.bible_end_s = await self._once(self._bible_call)
        self.sink.save_bible(gen.value)
        meta.bible_prompt_tokens = gen.prompt_tokens
        meta.bible_completion_tokens = gen.completion_tokens
        return gen.value

    def _go(self, attempt: int) -> None:
        if attempt == 1 and not self.may_start():
            raise NotStarted("the plan")

    async def _outline_call(self, attempt: int, feedback: str | None) -> Generation[Outline]:
        async with self.layers.slot():
            self._go(attempt)
            gen = await self.backend.write_outline(
                self.request, self.total, attempt=attempt, feedback=feedback
            )
        if len(gen.value.beats) != self.total:
            raise MalformedOutputError(
                f"the outline must have exactly {self.total} beats, "
                f"one per scene (it had {len(gen.value.beats)})"
            )
        return gen

    async def _bible_call(self, attempt: int, feedback: str | None) -> Generation[Bible]:
        async with self.layers.slot():
            self._go(attempt)
            gen = await self.backend.write_bible(self.request, attempt=attempt, feedback=feedback)
        if not gen.value.characters:
            raise MalformedOutputError("the story bible must name at least one character")
        return gen
