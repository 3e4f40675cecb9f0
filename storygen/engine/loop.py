"""The one scheduling loop: ask the strategy, start calls, record what happened.

The loop asks small objects instead of branching on the policies: the concurrency limit
(fixed or adaptive), the attempt (plain or hedged), the sink (a run directory or none) and
the admission layers each call passes (``admission.admission``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from storygen.core.errors import (
    PermanentError,
    RunFailedError,
    StoreError,
    StoryGenError,
)
from storygen.core.looks import scene_of
from storygen.core.models import RunMeta, Scene, SceneTiming, Script, ScriptRequest
from storygen.core.planning import assemble_script, scene_durations
from storygen.core.spend import SpendCap, SpendCapReached
from storygen.core.tasks import Backend, SceneTask, scene_context
from storygen.engine.admission import admission, concurrency_limit
from storygen.engine.attempts import attempt_for
from storygen.engine.events import (
    BibleFinished,
    Broadcast,
    OutlineFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    SceneFailed,
    SceneFinished,
    SceneStarted,
    SceneSummarized,
    Subscriber,
)
from storygen.engine.plan_calls import PlanCalls
from storygen.engine.prior import Prior
from storygen.engine.release import Releases
from storygen.engine.repair import RepairPass
from storygen.engine.scenes import Groups, NotStarted, SceneCalls, scene_timing
from storygen.engine.sinks import Sink, sink_for
from storygen.policies.budget import Budget
from storygen.policies.retry import RetryPolicy
from storygen.scheduling.scheduler import Scheduler
from storygen.scheduling.strategies import strategy_for
from storygen.store import RunDir

log = logging.getLogger("storygen")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, StoreError):
        return str(exc)  # it already names the file and the reason
    kind = "permanent error" if isinstance(exc, PermanentError) else type(exc).__name__
    return f"{kind}: {exc}"


class _Run:
    """One run of one request: asks the strategy which scenes may start, writes them, and
    records what happened; each policy is an object it asks, never a branch."""

    def __init__(
        self,
        request: ScriptRequest,
        backend: Backend,
        policy: RetryPolicy,
        subscribers: Iterable[Subscriber],
        sink: Sink,
        prior: Prior,
        budget: Budget | None = None,
        spend: SpendCap | None = None,
    ) -> None:
        self.request, self.backend, self.policy, self.sink = request, backend, policy, sink
        self.spend = spend or SpendCap.none()
        self.capped = False  # the spend cap stopped it: no more calls, marked interrupted
        self.emit = Broadcast(subscribers)
        self.total = request.scene_count
        self.durations = scene_durations(request.duration_s, request.seconds_per_scene)
        # the kind of rule says whether a limit may adapt; an adaptive limit then sizes it
        plain = strategy_for(request)
        self.limit = concurrency_limit(request.adaptive, request.concurrency, plain, self.now)
        self.strategy = strategy_for(request, self.limit.size)
        self.admission = admission(self.limit, budget)
        self.plan = PlanCalls(
            request, backend, policy, self.admission.outline, sink, self.now, self._may_start
        )
        self.outline = prior.outline
        self.bible = prior.bible
        self.scenes: dict[int, Scene] = {k: s for k, (s, _) in prior.scenes.items()}
        # A resumed run's new timings follow the earlier ones on the chart.
        earlier = [t for _, t in [*prior.scenes.values(), *prior.repairs]]
        self.offset = max((t.end_s for t in earlier), default=0.0)
        self.timings: dict[int, SceneTiming] = {k: t for k, (_, t) in prior.scenes.items()}
        self.repaired = prior.repairs  # the repair pass's calls already made
        self.repair_rows: list[SceneTiming] = []
        # batched sizes each batch from the limit; the others cap the calls in flight by it
        cap = self.limit.size if self.strategy.caps_in_flight else None
        pipe = (self.strategy, backend, self.now, self._released)
        self.releases = Releases(self.scenes, prior, *pipe)
        known = prior.pinned if self.strategy.pipelines else ()
        self.sched = Scheduler(self.strategy, self.total, done=self.scenes, cap=cap, known=known)
        left = self.total - len(self.scenes)
        attempt = attempt_for(request.hedge, backend, left, self.admission.backup)
        self.calls = SceneCalls(
            policy, self.admission.primary, self.limit, attempt, self.now, self.emit
        )
        self.groups = Groups(self.strategy, self.total, done=self.scenes)
        self.wake = asyncio.Event()
        self.failure: tuple[str, int | None, Exception] | None = None
        self.meta = RunMeta(
            run_id=sink.run_id,
            backend=backend.name,
            model=backend.model,
            strategy=request.strategy,
            concurrency=self.strategy.concurrency,
            lag_allowance=self.strategy.lag_allowance,
            stream_note=self.releases.note,
        )

    def now(self) -> float:
        return time.perf_counter() - self.t0 + self.offset

    async def execute(self) -> Script:
        self.t0 = time.perf_counter()
        self.meta.started_at = time.time() - self.offset  # a resume's times follow on
        self.limit.start()
        done, name, size = len(self.scenes), self.request.strategy, self.strategy.concurrency
        self.emit(RunStarted(self.meta.run_id, self.total, done, name, size))
        try:
            if not self._over_cap() and await self._ensure_plan():
                await self._write_scenes()
            # the cap reached by the last answers in flight leaves nothing unwritten
            self.capped = self.capped and len(self.scenes) < self.total
            if self.failure is None and self.request.repair and not self._over_cap():
                await self._repair()
            if self.failure is None and not self.capped:
                return await self._finish()
        except Exception as exc:  # a bug, or the store failing at the very end
            self._fail(None, exc)
        except BaseException as exc:  # Ctrl-C: say so on disk, keep the scenes
            self._mark("interrupted", f"interrupted ({type(exc).__name__}); resume finishes it")
            raise
        if self.failure is None:  # the spend cap stopped it: every scene kept, resumable
            stopped = self.spend.message(len(self.scenes), self.total)
            self.emit(RunFailed(stopped, None))
            self._mark("interrupted", stopped)
            raise SpendCapReached(stopped, None, self.sink.path)
        where, index, cause = self.failure
        message = f"{where} failed: {_describe(cause)}"
        self.emit(RunFailed(message, index))
        self._mark("failed", message)
        raise RunFailedError(message, index, self.sink.path) from cause

    def _fail(self, index: int | None, exc: Exception, where: str = "the run") -> None:
        """Remember the first failure and admit nothing more; calls in flight may finish."""
        where = f"scene {index}" if index else where
        if not isinstance(exc, StoryGenError):  # a bug somewhere: keep its traceback
            log.error("unexpected error in %s", where, exc_info=exc)
        self.sched.stop()
        if self.failure is None:
            self.failure = (where, index, exc)
        self.wake.set()

    def _over_cap(self) -> bool:
        """Whether the spend cap stops the run: it then starts no more calls, and the calls
        in flight finish and are kept."""
        if self.spend.reached and not self.capped:
            self.capped = True
            self.sched.stop()
        return self.capped

    def _may_start(self) -> bool:
        """Asked by a first call once it holds its slot: other runs sharing the budget and
        the cap may have spent it while this call waited."""
        return not self._over_cap()

    def _mark(self, status: str, error: str | None) -> None:
        until_now = self.now() - self.offset  # the time until it stopped
        self.sink.mark(status, error, len(self.scenes), until_now)

    async def _ensure_plan(self) -> bool:
        """What every scene is told before any starts, written now or read back: the outline
        when the strategy plans, else the story bible when asked for (an outline already is
        one). False when that call failed for good."""
        needs_outline = self.strategy.needs_outline
        try:
            if needs_outline and self.outline is None:
                self.outline = await self.plan.outline(self.meta)
            elif not needs_outline and self.request.bible and self.bible is None:
                self.bible = await self.plan.bible(self.meta)
        except NotStarted:  # the cap was spent while it waited: stopped, not failed
            return False
        except Exception as exc:
            self._fail(None, exc, "the outline" if needs_outline else "the story bible")
            return False
        for tokens in (
            (self.meta.outline_prompt_tokens, self.meta.outline_completion_tokens),
            (self.meta.bible_prompt_tokens, self.meta.bible_completion_tokens),
        ):
            if any(tokens):  # made now (a resumed run's plan was paid for before)
                self.spend.add(*tokens)
        if needs_outline:
            self.sched.outline_done()
            self.emit(OutlineFinished(self.now()))
        elif self.bible is not None:
            self.emit(BibleFinished(self.now()))
        return True

    async def _write_scenes(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._over_cap()
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

    async def _guarded(self, k: int) -> None:
        """Whatever goes wrong in a scene's task ends the run; the loop is always woken, so
        a failure can never leave it waiting."""
        try:
            await self._write_scene(k)
        except NotStarted:  # the cap was spent while it waited: abandoned, not failed
            self.sched.abandon(k)
        except Exception as exc:
            if not self.sched.is_done(k):
                self.sched.abandon(k)
            self.emit(SceneFailed(k, _describe(exc)))
            self._fail(k, exc)
        finally:
            self.wake.set()

    async def _write_scene(self, k: int) -> None:
        """Context, then the call with retries, then the record."""
        start = self.now()
        lag = self.sched.context_lag(k)
        upto = self.sched.context_upto(k)
        context = scene_context(
            k, upto, self.releases.summaries, self.request.context_scenes, self.outline, self.bible
        )
        group = self.groups.started(k, start)
        task = SceneTask(self.request, k, self.total, self.durations[k - 1], context)

        def starting() -> bool:  # told once its first call holds its slot, and may go
            if not self._may_start():
                return False
            self.emit(SceneStarted(k, group, start))
            return True

        release = self.releases.for_scene(k)
        sent = await self.calls.send(task, start, release, starting)
        draft = sent.answer.generation.value
        if release is not None:
            draft = release.kept(draft)  # the summary later scenes were told, pinned
            if release.unstreamed and (note := self.releases.unstreamed(release.unstreamed[0])):
                self.meta.stream_note = note
        # looks by construction, before the scene is stored
        scene = scene_of(draft, k, self.durations[k - 1], context.bible)
        end = self.now()
        self.limit.answered(end - sent.last_s, sent.ticket)  # queueing included: the signal
        self._record(scene, scene_timing(task, group, start, end, lag, sent))

    def _spent(self, timing: SceneTiming) -> None:
        prompt = timing.prompt_tokens + timing.extra_prompt_tokens
        completion = timing.completion_tokens + timing.extra_completion_tokens
        self.spend.add(prompt, completion, calls=1 + timing.backups)

    def _append_repair(self, scene: Scene, timing: SceneTiming) -> None:
        self._spent(timing)
        self.sink.append(scene, timing)

    def _released(self, k: int, summary: str) -> None:
        self.sink.pin(k, summary)  # on disk before any later scene is told it
        self.sched.summary_known(k)
        self.emit(SceneSummarized(k, summary, self.now()))
        self.wake.set()

    def _record(self, scene: Scene, timing: SceneTiming) -> None:
        k = timing.index
        self._spent(timing)
        self.sink.append(scene, timing)  # on disk before anyone is told it is done
        self.scenes[k], self.timings[k] = scene, timing
        self.releases.written(scene)
        self.sched.finish(k)
        self.emit(SceneFinished(scene, timing))
        batch = self.groups.finished(timing.group, timing.end_s)
        if batch is not None:
            self.emit(batch)

    async def _repair(self) -> None:
        """The repair pass (``engine.repair``), once every scene is written: the status
        says so, and a resumed run whose scenes are all done goes straight to it."""
        self._mark("repairing", None)
        written = {k: (self.scenes[k], self.timings[k]) for k in self.scenes}
        plans, most = (self.outline, self.bible), self.strategy.concurrency
        repair = RepairPass(
            self.request, written, plans, self.calls, self._append_repair, most, self.repaired
        )
        failed = await repair.run()
        self.scenes.update(repair.kept)
        self.repair_rows = repair.record_in(self.meta)
        if failed is not None:
            self._fail(None, failed[1], f"the repair of scene {failed[0]}")

    async def _finish(self) -> Script:
        self.meta.wall_time_s = self.now() - self.offset
        self.meta.timeline = [self.timings[k] for k in sorted(self.timings)] + self.repair_rows
        self.meta.concurrency_trace = self.limit.trace()
        self.meta.plateau = self.limit.plateau()
        scenes = [self.scenes[k] for k in range(1, self.total + 1)]
        script = assemble_script(self.request, self.outline, scenes, self.meta, self.bible)
        await self.sink.finish(script)
        self.emit(RunFinished(script))
        return script


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
    spend: SpendCap | None = None,
) -> Script:
    """Write every scene of ``request``; raises RunFailedError with the failing scene.

    ``budget`` caps the calls in flight together with other runs sharing it; a shared
    backend is closed by its owner, so pass ``close_backend=False`` for it. ``spend`` caps
    what the calls cost (shared likewise): reached, the run starts no more calls and raises
    SpendCapReached, marked interrupted with every scene kept.
    """
    if policy is None:
        policy = RetryPolicy().scaled(getattr(backend, "time_scale", 1.0))
    sink = sink_for(run_dir)
    try:
        with sink.writer():
            run = _Run(request, backend, policy, subscribers, sink, prior or Prior(), budget, spend)
            try:
                return await run.execute()
            finally:
                await sink.close()
    finally:
        aclose = getattr(backend, "aclose", None) if close_backend else None
        if aclose is not None:
            await aclose()
