"""The one scheduling loop: ask the strategy, start calls, record what happened."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

from storygen.core.errors import (
    MalformedOutputError,
    PermanentError,
    RateLimitedError,
    RunFailedError,
    StoreError,
    StoryGenError,
)
from storygen.core.models import (
    Outline,
    RunMeta,
    Scene,
    SceneDraft,
    SceneTiming,
    Script,
    ScriptRequest,
)
from storygen.core.planning import scene_durations
from storygen.core.tasks import Backend, Generation, SceneContext, SceneTask
from storygen.engine.events import (
    BatchFinished,
    Event,
    OutlineFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    SceneFailed,
    SceneFinished,
    SceneRetrying,
    SceneStarted,
    Subscriber,
)
from storygen.policies.adaptive import Controller, Gate
from storygen.policies.budget import Budget
from storygen.policies.hedging import Hedged, Hedger
from storygen.policies.retry import RetryPolicy, call_with_retries
from storygen.scheduling.scheduler import Scheduler
from storygen.scheduling.strategies import strategy_for
from storygen.store import RunDir


@dataclass
class Prior:
    """What an earlier attempt at this run already wrote (for resume)."""

    scenes: dict[int, tuple[Scene, SceneTiming]] = field(default_factory=dict)
    outline: Outline | None = None

    @classmethod
    def from_run(cls, run_dir: RunDir) -> Prior:
        return cls(scenes=run_dir.load_checkpoint(), outline=run_dir.load_outline())

    @classmethod
    def for_resume(cls, run_dir: RunDir) -> Prior:
        """What is done, with the run marked running again. Hold the run's lock (``writer``)
        first, so that nobody else adds to it between the reading and the writing."""
        prior = cls.from_run(run_dir)
        run_dir.set_status("running", error=None)
        return prior


_DANGLING = {"a", "an", "the", "to", "of", "in", "on", "at", "and", "or", "for", "with", "from"}


def title_from_idea(idea: str) -> str:
    """At most eight words, never ending on "a", "to" or "the"."""
    words = idea.strip().rstrip(".!?").split()[:8]
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    title = " ".join(words)
    return title[:1].upper() + title[1:] or "Untitled"


log = logging.getLogger("storygen")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, StoreError):
        return str(exc)  # it already names the file and the reason
    kind = "permanent error" if isinstance(exc, PermanentError) else type(exc).__name__
    return f"{kind}: {exc}"


def _call_seconds(gen: Generation[Any], hedged: Hedged[Any] | None, measured: float) -> float:
    """How long the answering call took: the backend's own drawn latency when it has one
    (the simulated LLM), so event-loop overhead is not counted; a backup that won counts
    from the primary's start."""
    drawn = gen.latency_s
    if drawn is None:
        return measured if hedged is None else hedged.seconds
    if hedged is not None and hedged.backup_won:
        return hedged.winner_after_s + drawn
    return drawn


class _Run:
    def __init__(
        self,
        request: ScriptRequest,
        backend: Backend,
        policy: RetryPolicy,
        subscribers: Iterable[Subscriber],
        run_dir: RunDir | None,
        prior: Prior,
        budget: Budget | None = None,
    ) -> None:
        self.request, self.backend, self.policy = request, backend, policy
        self.budget = budget
        self.subscribers = list(subscribers)
        self._broken: set[int] = set()
        self.run_dir = run_dir
        self.total = request.scene_count
        self.durations = scene_durations(request.duration_s, request.seconds_per_scene)
        self.controller: Controller | None = None
        if request.adaptive is not None and request.strategy != "sequential":
            self.controller = Controller(
                request.adaptive,
                request.concurrency,
                clock=self.now,
                batches=request.strategy == "batched",
            )
        limit = self.controller.current if self.controller else None
        self.gate = Gate(limit, self.controller) if limit is not None else None
        self.strategy = strategy_for(request, limit)
        self.outline = prior.outline
        self.scenes: dict[int, Scene] = {k: s for k, (s, _) in prior.scenes.items()}
        # A resumed run's new timings follow the earlier ones on the chart.
        self.offset = max((t.end_s for _, t in prior.scenes.values()), default=0.0)
        self.timings: dict[int, SceneTiming] = {k: t for k, (_, t) in prior.scenes.items()}
        # batched sizes each batch from the limit; the others cap the calls in flight by it
        cap = limit if request.strategy in ("windowed", "outline") else None
        self.sched = Scheduler(self.strategy, self.total, done=self.scenes, cap=cap)
        left = self.total - len(self.scenes)
        self.hedger = Hedger(request.hedge, left) if request.hedge is not None else None
        self.wake = asyncio.Event()
        self.failure: tuple[str, int | None, Exception] | None = None
        self.meta = RunMeta(
            run_id=run_dir.run_id if run_dir else "",
            backend=backend.name,
            model=backend.model,
            strategy=request.strategy,
            concurrency=self.strategy.concurrency,
            lag_allowance=request.effective_lag_allowance
            if request.strategy == "windowed"
            else None,
        )
        # per group, its scenes still to write: counted when the group starts, since an
        # adaptive run's batches form only as it goes
        self._group_left: dict[int, int] = {}
        self._group_start: dict[int, float] = {}

    def emit(self, event: Event) -> None:
        """A subscriber that raises is a UI bug, not a reason to lose a run: it is logged
        once and the run goes on (the run store, not a subscriber, keeps the scenes)."""
        for subscriber in self.subscribers:
            try:
                subscriber(event)
            except Exception:
                if id(subscriber) not in self._broken:
                    self._broken.add(id(subscriber))
                    log.exception(
                        "a subscriber raised on %s; its later errors are not logged",
                        type(event).__name__,
                    )

    def now(self) -> float:
        return time.perf_counter() - self.t0 + self.offset

    def _slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Room in the budget shared with other scripts, if there is one."""
        return self.budget.slot() if self.budget else contextlib.nullcontext()

    async def execute(self) -> Script:
        self.t0 = time.perf_counter()
        self.meta.started_at = time.time() - self.offset  # a resume's times follow on
        if self.controller is not None:
            self.controller.start()
        self.emit(
            RunStarted(
                self.meta.run_id,
                self.total,
                len(self.scenes),
                self.request.strategy,
                self.strategy.concurrency,
            )
        )
        try:
            if not self.strategy.needs_outline or await self._ensure_outline():
                await self._write_scenes()
            if self.failure is None:
                return await self._finish()
        except Exception as exc:  # a bug, or the store failing at the very end
            self._fail(None, exc)
        except BaseException as exc:  # Ctrl-C: say so on disk, keep the scenes
            self._mark("interrupted", f"interrupted ({type(exc).__name__}); resume finishes it")
            raise
        assert self.failure is not None
        where, index, cause = self.failure
        message = f"{where} failed: {_describe(cause)}"
        self.emit(RunFailed(message, index))
        self._mark("failed", message)
        raise RunFailedError(
            message, index, str(self.run_dir.path) if self.run_dir else None
        ) from cause

    def _fail(self, index: int | None, exc: Exception, where: str = "the run") -> None:
        """Remember the first failure and admit nothing more; calls in flight may finish."""
        where = f"scene {index}" if index else where
        if not isinstance(exc, StoryGenError):  # a bug somewhere: keep its traceback
            log.error("unexpected error in %s", where, exc_info=exc)
        self.sched.stop()
        if self.failure is None:
            self.failure = (where, index, exc)
        self.wake.set()

    def _mark(self, status: str, error: str) -> None:
        """Status on disk where that is still possible: a full disk must not hide the cause."""
        if self.run_dir is None:
            return
        until_now = self.now() - self.offset  # the time until it stopped
        try:
            self.run_dir.set_status(
                status, error=error, scenes_done=len(self.scenes), wall_time_s=until_now
            )
        except StoreError as exc:
            log.warning("%s; the run's status on disk is stale", exc)

    async def _ensure_outline(self) -> bool:
        """Write (or reuse) the plan; False when it failed for good."""
        if self.outline is None:
            start = self.now()

            async def call(attempt: int, feedback: str | None) -> Generation[Outline]:
                async with self._slot():
                    gen = await self.backend.write_outline(
                        self.request, self.total, attempt=attempt, feedback=feedback
                    )
                if len(gen.value.beats) != self.total:
                    raise MalformedOutputError(
                        f"the outline must have exactly {self.total} beats, "
                        f"one per scene (it had {len(gen.value.beats)})"
                    )
                return gen

            try:
                gen, _ = await call_with_retries(self.policy, call)
                if self.run_dir:
                    self.run_dir.save_outline(gen.value)
            except Exception as exc:
                self._fail(None, exc, "the outline")
                return False
            self.outline = gen.value
            self.meta.outline_start_s, self.meta.outline_end_s = start, self.now()
            self.meta.outline_prompt_tokens = gen.prompt_tokens
            self.meta.outline_completion_tokens = gen.completion_tokens
        self.sched.outline_done()
        self.emit(OutlineFinished(self.now()))
        return True

    async def _write_scenes(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                for k in self.sched.startable():
                    task = asyncio.create_task(self._guarded(k))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if self.sched.finished or (self.sched.stopped and self.sched.idle):
                    return
                if self.sched.idle:  # pragma: no cover - a rule that never admits
                    raise RuntimeError(f"{self.strategy.name} admitted nothing; run stalled")
                await self.wake.wait()
                self.wake.clear()
        finally:
            for task in list(tasks):
                task.cancel()

    def _context(self, k: int) -> SceneContext:
        upto = self.sched.context_upto(k)
        first = max(1, upto - self.request.context_scenes + 1)
        previous = tuple((i, self.scenes[i].summary) for i in range(first, upto + 1))
        if self.outline is None:
            return SceneContext(previous=previous)
        beats = self.outline.beats
        return SceneContext(
            previous=previous,
            outline=self.outline,
            beat=beats[k - 1],
            previous_beat=beats[k - 2] if k > 1 else None,
            next_beat=beats[k] if k < len(beats) else None,
        )

    async def _guarded(self, k: int) -> None:
        """Whatever goes wrong in a scene's task ends the run; the loop is always woken, so
        a failure can never leave it waiting."""
        try:
            await self._write_scene(k)
        except Exception as exc:
            if not self.sched.is_done(k):
                self.sched.abandon(k)
            self.emit(SceneFailed(k, _describe(exc)))
            self._fail(k, exc)
        finally:
            self.wake.set()

    async def _write_scene(self, k: int) -> None:
        start = self.now()
        lag = self.sched.context_lag(k)
        context = self._context(k)
        group = self.strategy.group(k)
        self._group_start.setdefault(group, start)
        if group not in self._group_left:  # its first scene: none of it is written in this run
            members = self.strategy.members(group)
            self._group_left[group] = sum(
                1 for i in members if i <= self.total and i not in self.scenes
            )
        task = SceneTask(self.request, k, self.total, self.durations[k - 1], context)
        self.emit(SceneStarted(k, group, start))
        first_call = last_call = start
        hedged: Hedged[SceneDraft] | None = None
        rate_limited = 0

        ticket = 0

        async def call(attempt: int, feedback: str | None) -> Generation[SceneDraft]:
            nonlocal first_call, last_call, hedged, ticket
            async with (
                self.gate.slot() if self.gate else contextlib.nullcontext(),
                self._slot(),
            ):
                last_call = self.now()  # after the gate: waiting for room is not call time
                if self.controller is not None:
                    ticket = self.controller.ticket()
                if attempt == 1:
                    first_call = last_call
                gen, hedged = await self._attempt(task, attempt, feedback)
            return gen

        def on_retry(attempt: int, exc: BaseException, wait: float) -> None:
            nonlocal rate_limited
            if isinstance(exc, RateLimitedError):
                rate_limited += 1
                if self.controller is not None and self.gate is not None:
                    self.controller.on_rate_limited()
                    self.gate.pause(wait)
            self.emit(SceneRetrying(k, attempt, str(exc), wait))

        gen, attempts = await call_with_retries(self.policy, call, on_retry)
        scene = Scene.from_draft(gen.value, k, self.durations[k - 1])
        end = self.now()
        if self.controller is not None:  # queueing included: that is the signal
            self.controller.on_answer(end - last_call, ticket)
        took = _call_seconds(gen, hedged, end - last_call)
        backup_after = hedged.backup_after_s if hedged is not None else None
        backups = hedged.backups if hedged is not None else 0  # the losers' included
        timing = SceneTiming(
            index=k,
            group=group,
            start_s=start,
            end_s=end,
            attempts=attempts,
            context_lag=lag,
            context_size=len(context.previous),
            had_outline=context.outline is not None,
            prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens,
            service_s=(last_call - first_call) + took,
            call_start_s=last_call,
            hedged=backups > 0,
            hedge_start_s=None if backup_after is None else last_call + backup_after,
            hedge_won=bool(hedged and hedged.backup_won),
            backups=backups,
            # the other copies were cancelled: their tokens are unknown, so count the winner's
            extra_prompt_tokens=gen.prompt_tokens * backups,
            extra_completion_tokens=gen.completion_tokens * backups,
            rate_limited=rate_limited,
        )
        if self.run_dir:  # on disk before anyone is told it is done
            self.run_dir.append(scene, timing)
        self.scenes[k], self.timings[k] = scene, timing
        self.sched.finish(k)
        self.emit(SceneFinished(scene, timing))
        self._group_left[group] -= 1
        if self._group_left[group] == 0:
            self.emit(BatchFinished(group, self._group_start[group], end))

    async def _attempt(
        self, task: SceneTask, attempt: int, feedback: str | None
    ) -> tuple[Generation[SceneDraft], Hedged[SceneDraft] | None]:
        """One attempt at a scene: a single call, or a hedged pair when hedging is on."""
        if self.hedger is None:
            gen = await self.backend.write_scene(task, attempt=attempt, feedback=feedback)
            return gen, None

        def copy(n: int) -> Awaitable[Generation[SceneDraft]]:
            if n == 0:  # the primary: any backend, hedging-aware or not
                return self.backend.write_scene(task, attempt=attempt, feedback=feedback)
            return backup(n)

        async def backup(n: int) -> Generation[SceneDraft]:
            async with self._slot():  # a backup is a call in flight like any other
                return await self.backend.write_scene(
                    task, attempt=attempt, feedback=feedback, hedge=n
                )

        result = await self.hedger.call(copy)
        return result.generation, result

    async def _finish(self) -> Script:
        self.meta.wall_time_s = self.now() - self.offset
        self.meta.timeline = [self.timings[k] for k in sorted(self.timings)]
        if self.controller is not None:
            self.meta.concurrency_trace = list(self.controller.trace)
        script = Script(
            title=self.outline.title if self.outline else title_from_idea(self.request.idea),
            request=self.request,
            outline=self.outline,
            scenes=[self.scenes[k] for k in range(1, self.total + 1)],
            meta=self.meta,
        )
        if self.run_dir:  # in a thread: fsyncs must not stall the other runs of a bulk run
            await asyncio.to_thread(self._save, self.run_dir, script)
        self.emit(RunFinished(script))
        return script

    def _save(self, run_dir: RunDir, script: Script) -> None:
        run_dir.write_script(script)
        run_dir.set_status(
            "finished",
            error=None,
            scenes_done=self.total,
            wall_time_s=self.meta.wall_time_s,
            prompt_tokens=self.meta.prompt_tokens,  # a summary of many runs reads only this
            completion_tokens=self.meta.completion_tokens,
        )


async def run_async(
    request: ScriptRequest,
    backend: Backend,
    *,
    policy: RetryPolicy | None = None,
    subscribers: Iterable[Subscriber] = (),
    run_dir: RunDir | None = None,
    prior: Prior | None = None,
    budget: Budget | None = None,
    close_backend: bool = True,
) -> Script:
    """Write every scene of ``request``; raises RunFailedError with the failing scene.

    ``budget`` caps the calls in flight together with other runs sharing it; a shared
    backend is closed by its owner, so pass ``close_backend=False`` for it.
    """
    if policy is None:
        policy = RetryPolicy().scaled(getattr(backend, "time_scale", 1.0))
    try:
        with run_dir.writer() if run_dir else contextlib.nullcontext():
            run = _Run(request, backend, policy, subscribers, run_dir, prior or Prior(), budget)
            try:
                return await run.execute()
            finally:
                if run_dir:  # an fsync: off the loop, where other runs may be waiting
                    await asyncio.to_thread(run_dir.close)
    finally:
        aclose = getattr(backend, "aclose", None) if close_backend else None
        if aclose is not None:
            await aclose()
