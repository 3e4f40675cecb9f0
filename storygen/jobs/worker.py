"""The Generate and Compare pages' runs, in the background while a page polls them; nothing
here imports Streamlit.

A Streamlit script reruns on every click and page switch, so a run must live outside it.
A Job starts a child process (jobs/child.py) that writes its runs (generate, resume, or the
lanes of a comparison, all on one event loop) and a daemon thread here that reads the
child's events into each Lane's ProgressTracker. Session state keeps the Job, a handle,
never copies of its data. Job.cancel sends the child SIGINT, as Ctrl-C would: every run
ends "interrupted" on disk with its finished scenes, and resumes.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from storygen.backends.config import BackendConfig
from storygen.backends.factory import build_backend
from storygen.core.errors import RunFailedError
from storygen.core.labels import Baseline, request_label
from storygen.core.models import Script, ScriptRequest
from storygen.core.spend import SpendCap, SpendCapReached, in_app_words
from storygen.engine.events import Subscriber
from storygen.jobs.child import Child, ChildJob
from storygen.jobs.lane import Lane, Status
from storygen.runner.lanes import LaneRun, Lanes, mark_interrupted, run_lane
from storygen.runner.plan import PlanEntry, baseline_of, measures_sequential, plan_requests
from storygen.runner.runs import resume_config
from storygen.store import RunDir, RunStore

JobKind = Literal["generate", "resume", "compare"]


@dataclass(frozen=True)
class _Task:
    """What the child runs for one lane."""

    mode: Literal["generate", "resume"]
    request: ScriptRequest
    run_path: str | None
    config: BackendConfig
    fail_scenes: tuple[int, ...] = ()
    max_cost: float | None = None  # the spend cap, USD (the sidebar's): the job's, in total

    def lane(
        self, send: Subscriber, spend: Callable[[float | None, str], SpendCap | None]
    ) -> LaneRun:
        """``spend(max_cost, model)``: the job's cap, on this lane's backend's model."""
        run_dir = RunDir(Path(self.run_path)) if self.run_path else None
        backend = build_backend(self.config, self.fail_scenes)
        return LaneRun(
            self.request,
            backend,
            run_dir,
            resume=self.mode == "resume",
            subscribers=(send,),
            spend=spend(self.max_cost, backend.model),
        )


class Job(ChildJob):
    """A child process writing one or more lanes, and the thread that listens to it."""

    entry: ClassVar[str] = "storygen.jobs.worker:child_main"

    def __init__(
        self, kind: JobKind, lanes: Sequence[Lane], *, estimated_baseline: bool = False
    ) -> None:
        super().__init__(f"storygen-{kind}")
        self.kind = kind
        self.lanes = tuple(lanes)
        self.estimated_baseline = estimated_baseline

    def start(self, tasks: Sequence[_Task]) -> Job:
        self._spawn(pickle.dumps(list(tasks)))
        return self

    def _receive(self, message: tuple[Any, ...]) -> None:
        kind, lane = message[0], self.lanes[message[1]]
        if kind == "event":
            lane.tracker(message[2])
        elif kind == "finished":
            lane.finish(message[2])
        elif kind == "cancelled":
            lane.cancel()
        elif kind == "capped":
            lane.stop_at_cap(message[2])
        else:
            lane.fail(message[2], message[3])

    def _ended(self, reason: str) -> None:
        for lane in self.lanes:
            if lane.done:
                continue
            if self.cancel_requested:  # cancelled before the child could say so itself
                if lane.run_dir is not None:
                    mark_interrupted(lane.run_dir)
                lane.cancel()
            else:
                lane.fail(f"the run stopped before it finished ({reason})")

    @property
    def done(self) -> bool:
        return all(lane.done for lane in self.lanes)

    @property
    def status(self) -> Status:
        if not self.done:
            return "running"
        if any(lane.error for lane in self.lanes):
            return "failed"
        if any(lane.cancelled for lane in self.lanes):
            return "cancelled"
        return "capped" if any(lane.capped for lane in self.lanes) else "finished"

    def scripts(self) -> list[Script]:
        return [lane.result for lane in self.lanes if lane.result is not None]

    @property
    def baseline(self) -> Baseline:
        """Measured when the sequential run exists and finished, estimated otherwise."""
        return baseline_of(self.scripts(), measured=not self.estimated_baseline)


class _LanesChild(Child):
    """Every task on one event loop, each with its own backend; every event and outcome
    sent to the Job. SIGINT cancels every run: each ends "interrupted" on disk, and its
    lane "cancelled". One spend cap is shared by every lane: a comparison's is a total,
    as a bulk run's across its rows."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.tasks: list[_Task] = []
        self.ended: set[int] = set()  # lanes whose outcome was sent
        self.spend: SpendCap | None = None

    def _spend(self, max_cost: float | None, model: str) -> SpendCap | None:
        """The job's one cap, made by the first lane to ask (the lanes share one model)."""
        if max_cost is not None and self.spend is None:
            self.spend = SpendCap(max_cost, model)
        return self.spend

    def send(self, message: tuple[Any, ...]) -> None:
        if message[0] != "event":
            self.ended.add(message[1])
        super().send(message)

    async def _lane(self, i: int, task: _Task) -> None:
        try:
            lane = task.lane(lambda event: self.send(("event", i, event)), self._spend)
            script = await run_lane(lane)
        except SpendCapReached as exc:  # said as the app names the cap: the sidebar's field
            self.send(("capped", i, in_app_words(str(exc))))
        except RunFailedError as exc:
            self.send(("failed", i, str(exc), exc.scene_index))
        except Exception as exc:
            self.send(("failed", i, f"{type(exc).__name__}: {exc}", None))
        else:
            self.send(("finished", i, script))

    def work(self) -> None:
        self.tasks = self.payload()
        lanes = Lanes.gather(self._lane(i, task) for i, task in enumerate(self.tasks))
        asyncio.run(lanes)  # SIGINT cancels it: each engine marks its run "interrupted"

    def cancelled(self) -> None:
        for i, task in enumerate(self.tasks):
            if i not in self.ended:
                if task.run_path:  # a lane cancelled before its engine started has no mark
                    mark_interrupted(RunDir(Path(task.run_path)))
                self.send(("cancelled", i))


def child_main(fd: int) -> None:
    """The child process of a Job, its events pickled onto pipe ``fd``."""
    _LanesChild(fd).main()


def start_generate(
    request: ScriptRequest,
    config: BackendConfig,
    *,
    store: RunStore | None = None,
    fail_scenes: Iterable[int] = (),
    max_cost: float | None = None,
) -> Job:
    """Write ``request`` in the background; with a store every scene is checkpointed.
    ``max_cost``: the run spending it starts no more calls and ends interrupted."""
    run_dir = store.create(request, config.settings()) if store is not None else None
    lane = Lane(request_label(request), request, run_dir, secrets=config.key_values())
    run_path = str(run_dir.path) if run_dir else None
    task = _Task("generate", request, run_path, config, tuple(fail_scenes), max_cost)
    return Job("generate", [lane]).start([task])


def start_resume(
    run_dir: RunDir, config: BackendConfig | None = None, *, max_cost: float | None = None
) -> Job:
    """Write only what a failed or interrupted run is missing, in the background."""
    backend_config = resume_config(run_dir, config)
    request = run_dir.request()
    lane = Lane(
        request_label(request),
        request,
        run_dir,
        prior=run_dir.load_checkpoint(),
        secrets=backend_config.key_values(),
    )
    task = _Task("resume", request, str(run_dir.path), backend_config, max_cost=max_cost)
    return Job("resume", [lane]).start([task])


def start_comparison(
    base: ScriptRequest,
    plan: Sequence[PlanEntry],
    config: BackendConfig,
    *,
    store: RunStore | None = None,
    measure_sequential: bool | None = None,
    max_cost: float | None = None,
) -> Job:
    """The same request under every configuration of ``plan``, at once, side by side.

    Each lane has its own backend with the same seed, so on the simulated backend every lane
    meets the same drawn latencies and only scheduling differs. On a paid API the sequential
    run is skipped unless ``measure_sequential``; its time is then estimated.
    ``max_cost``: one cap on every lane together; once spent, each lane starts no more
    calls and ends as a generate job's does at its cap (its run interrupted, resumable).
    """
    measure = measures_sequential(config, measure_sequential)
    requests = plan_requests(base, plan, measure)
    lanes: list[Lane] = []
    tasks: list[_Task] = []
    for request in requests:
        run_dir = store.create(request, config.settings()) if store is not None else None
        label = request_label(request)
        lanes.append(Lane(label, request, run_dir, secrets=config.key_values()))
        run_path = str(run_dir.path) if run_dir else None
        tasks.append(_Task("generate", request, run_path, config, max_cost=max_cost))
    return Job("compare", lanes, estimated_baseline=not measure).start(tasks)
