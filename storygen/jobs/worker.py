"""Runs in the background while a page polls them; nothing here imports Streamlit.

A Streamlit script reruns on every click and page switch, so a run must live outside it.
A Job starts a child process that writes its runs (generate, resume, or the lanes of a
comparison, all on one event loop) and a daemon thread here that reads the child's events
from a pipe into each Lane's ProgressTracker, whose snapshot is thread-safe. Session state
keeps the Job, a handle, never copies of its data. Job.cancel sends the child SIGINT, as
Ctrl-C would: every run ends "interrupted" on disk with its finished scenes, and resumes.

Why a process and not a thread: the dashboard's numbers are ratios of wall times, and in the
app's process every UI refresh holds the GIL for milliseconds. That delay lands on each of
a sequential run's 75 steps far more than on the 8 steps of batches of 10, and inflated
speedups by ~15% at a demo time scale. The child is a fresh interpreter that imports only
storygen (never the caller's __main__), so the engine keeps its own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from storygen.backends.config import BackendConfig, config_from_settings
from storygen.core.errors import InvalidRequestError, RunFailedError, StoreError
from storygen.core.models import (
    AdaptiveSettings,
    HedgeSettings,
    Scene,
    SceneTiming,
    Script,
    ScriptRequest,
    StrategyName,
)
from storygen.engine.events import ProgressTracker, Snapshot
from storygen.engine.loop import Prior, run_async
from storygen.store import RunDir, RunStore

JobKind = Literal["generate", "resume", "compare"]
Status = Literal["running", "finished", "failed", "cancelled"]
Baseline = Literal["measured", "estimated"]
DEFAULT_BATCH_SIZES = (3, 5, 10)
ADAPTIVE: Literal["adaptive"] = "adaptive"  # a size in a comparison plan: found at run time
DEFAULT_ADAPTIVE_MAX = 20
log = logging.getLogger(__name__)


def config_label(
    strategy: str, concurrency: int, *, hedge: bool = False, adaptive: bool = False
) -> str:
    """ "batched(5)", "windowed(adaptive)+hedge": the name of a configuration everywhere."""
    size = "adaptive" if adaptive else str(concurrency)
    base = "sequential" if strategy == "sequential" else f"{strategy}({size})"
    return base + ("+hedge" if hedge else "")


def request_label(request: ScriptRequest) -> str:
    return config_label(
        request.strategy,
        request.concurrency,
        hedge=request.hedge is not None,
        adaptive=request.adaptive is not None,
    )


class Lane:
    """One run's live state: progress, then its script, a clear error, or, when cancelled,
    a note of the scenes it kept."""

    def __init__(
        self,
        label: str,
        request: ScriptRequest,
        run_dir: RunDir | None = None,
        *,
        prior: dict[int, tuple[Scene, SceneTiming]] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.label = label
        self.request = request
        self.run_dir = run_dir
        self.prior = dict(prior or {})
        self.tracker = ProgressTracker()
        self.result: Script | None = None
        self.error: str | None = None
        self.failed_scene: int | None = None
        self.cancelled = False
        self.note: str | None = None  # a cancelled lane's "cancelled: 4 of 10 scenes kept; ..."
        self._secrets = tuple(s for s in secrets if s)
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def status(self) -> Status:
        if not self.done:
            return "running"
        if self.cancelled:
            return "cancelled"
        return "failed" if self.error is not None else "finished"

    def snapshot(self) -> Snapshot:
        return self.tracker.snapshot()

    def scenes(self, snapshot: Snapshot | None = None) -> list[Scene]:
        """Scenes written so far, a resumed run's earlier ones included, in index order."""
        by_index = {k: scene for k, (scene, _) in self.prior.items()}
        by_index.update({s.index: s for s in (snapshot or self.snapshot()).scenes})
        return [by_index[k] for k in sorted(by_index)]

    def timings(self, snapshot: Snapshot | None = None) -> list[SceneTiming]:
        by_index = {k: timing for k, (_, timing) in self.prior.items()}
        by_index.update({t.index: t for t in (snapshot or self.snapshot()).timings})
        return [by_index[k] for k in sorted(by_index)]

    def finish(self, script: Script) -> None:
        self.result = script
        self._done.set()

    def fail(self, message: str, scene_index: int | None = None) -> None:
        for secret in self._secrets:  # a provider may echo the key back in its error
            message = message.replace(secret, "***")
        self.error, self.failed_scene = message, scene_index
        self._done.set()

    def cancel(self) -> None:
        """Stopped on purpose: the run is "interrupted" on disk with every finished scene."""
        kept, total = len(self.scenes()), self.request.scene_count
        then = "; Resume finishes it" if self.run_dir is not None else ""
        self.note = f"cancelled: {kept} of {total} scenes kept{then}"
        self.cancelled = True
        self._done.set()


@dataclass(frozen=True)
class _Task:
    """What the child runs for one lane."""

    mode: Literal["generate", "resume"]
    request: ScriptRequest
    run_path: str | None
    config: BackendConfig
    fail_scenes: tuple[int, ...] = ()


class Job:
    """A child process writing one or more lanes, and the thread that listens to it."""

    def __init__(
        self, kind: JobKind, lanes: Sequence[Lane], *, estimated_baseline: bool = False
    ) -> None:
        self.kind = kind
        self.lanes = tuple(lanes)
        self.estimated_baseline = estimated_baseline
        self.child_pid: int | None = None
        self.cancel_requested = False
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self, tasks: Sequence[_Task]) -> Job:
        child, events, errors = _spawn_child(pickle.dumps(list(tasks)))
        self._child, self.child_pid = child, child.pid
        self._thread = threading.Thread(
            target=self._listen,
            args=(child, events, errors),
            name=f"storygen-{self.kind}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _listen(self, child: subprocess.Popen[bytes], events: IO[bytes], errors: IO[bytes]) -> None:
        """Feed the child's events to the lanes until it closes the pipe."""
        try:
            with events:
                while True:
                    try:
                        message = pickle.load(events)
                    except EOFError:
                        break
                    kind, i = message[0], message[1]
                    if kind == "event":
                        self.lanes[i].tracker(message[2])
                    elif kind == "finished":
                        self.lanes[i].finish(message[2])
                    elif kind == "cancelled":
                        self.lanes[i].cancel()
                    else:
                        self.lanes[i].fail(message[2], message[3])
            code = child.wait()
            with errors:
                errors.seek(0)
                last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            reason = f"exit {code}: {' '.join(last)}" if last else f"exit {code}"
        except Exception as exc:  # a page must never poll a job that can no longer end
            reason = f"{type(exc).__name__}: {exc}"
        for lane in self.lanes:
            if lane.done:
                continue
            if self.cancel_requested:  # cancelled before the child could say so itself
                if lane.run_dir is not None:
                    mark_interrupted(lane.run_dir)
                lane.cancel()
            else:
                lane.fail(f"the run stopped before it finished ({reason})")

    def cancel(self) -> None:
        """Stop the child as Ctrl-C would (SIGINT): each of its runs is then "interrupted" on
        disk with every finished scene kept, and its lane "cancelled"; Resume finishes it.
        Nothing happens once the child has ended, or when it was already asked."""
        child = self._child
        if child is None or self.cancel_requested or self.done:
            return
        self.cancel_requested = True
        child.send_signal(signal.SIGINT)  # a no-op once the child has exited and been reaped

    @property
    def done(self) -> bool:
        return all(lane.done for lane in self.lanes)

    @property
    def status(self) -> Status:
        if not self.done:
            return "running"
        if any(lane.error for lane in self.lanes):
            return "failed"
        return "cancelled" if any(lane.cancelled for lane in self.lanes) else "finished"

    def wait(self, timeout: float | None = None) -> bool:
        """True once every lane is done (for scripts and tests; pages poll ``done``)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def scripts(self) -> list[Script]:
        return [lane.result for lane in self.lanes if lane.result is not None]

    @property
    def baseline(self) -> Baseline:
        """Measured when the sequential run exists and finished, estimated otherwise."""
        if self.estimated_baseline:
            return "estimated"
        finished = [s.request.strategy for s in self.scripts()]
        return "measured" if "sequential" in finished else "estimated"


def _spawn_child(payload: bytes) -> tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]:
    return spawn_entry("child_main", payload)


def spawn_entry(entry: str, payload: bytes) -> tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]:
    """A fresh interpreter running ``storygen.jobs.worker.<entry>`` (or another module's, as
    "module:function"); events come back on a private pipe."""
    module, _, function = entry.rpartition(":")
    module = module or "storygen.jobs.worker"
    read_fd, write_fd = os.pipe()
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - read by the listener once the child exits
    child = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import {function}; {function}({write_fd})"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        pass_fds=(write_fd,),
        env={**os.environ, "PYTHONPATH": path},
    )
    os.close(write_fd)  # the child holds its own copy: EOF then means the child is done
    assert child.stdin is not None
    with child.stdin:
        child.stdin.write(payload)
    return child, os.fdopen(read_fd, "rb"), errors


def child_main(fd: int) -> None:
    """The child process: every task on one event loop, each with its own backend; every
    event and outcome pickled onto pipe ``fd``. SIGINT (Job.cancel, or Ctrl-C where the app
    runs) cancels every run: each ends "interrupted" on disk, and its lane "cancelled"."""
    out = os.fdopen(fd, "wb")
    listening = True
    tasks: list[_Task] = []
    ended: set[int] = set()  # lanes whose outcome was sent

    def send(message: tuple[Any, ...]) -> None:
        nonlocal listening
        if message[0] != "event":
            ended.add(message[1])
        if not listening:
            return
        try:
            pickle.dump(message, out)
            out.flush()
        except OSError:  # the app went away: finish the runs anyway, they are on disk
            listening = False

    async def lane(i: int, task: _Task) -> None:
        try:
            run_dir = RunDir(Path(task.run_path)) if task.run_path else None
            prior = None
            # one writer per run: the lock is taken before reading what is already done
            with run_dir.writer() if run_dir else contextlib.nullcontext():
                if task.mode == "resume" and run_dir is not None:  # as storygen.resume does
                    prior = Prior.for_resume(run_dir)
                script = await run_async(
                    task.request,
                    task.config.build(task.fail_scenes),
                    subscribers=[lambda event: send(("event", i, event))],
                    run_dir=run_dir,
                    prior=prior,
                )
        except RunFailedError as exc:
            send(("failed", i, str(exc), exc.scene_index))
        except Exception as exc:
            send(("failed", i, f"{type(exc).__name__}: {exc}", None))
        else:
            send(("finished", i, script))

    async def all_lanes() -> None:
        await asyncio.gather(*(lane(i, task) for i, task in enumerate(tasks)))

    try:
        tasks = pickle.load(sys.stdin.buffer)
        asyncio.run(all_lanes())  # SIGINT cancels it: each engine marks its run "interrupted"
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut this short
        for i, task in enumerate(tasks):
            if i not in ended:
                if task.run_path:  # a lane cancelled before its engine started has no mark
                    mark_interrupted(RunDir(Path(task.run_path)))
                send(("cancelled", i))
    finally:
        with contextlib.suppress(OSError):
            out.close()


def mark_interrupted(run_dir: RunDir) -> None:
    """A run that was cancelled before its engine could say so: "interrupted" on disk, with
    the scenes it kept, so that Resume finishes it. One the engine already marked stays as is."""
    try:
        if run_dir.status().get("status") == "running":
            run_dir.set_status(
                "interrupted",
                error="cancelled before it started; resume finishes it",
                scenes_done=len(run_dir.load_checkpoint()),
            )
    except (StoreError, OSError) as exc:  # the lane must still end; the Runs page shows the rest
        log.warning("could not mark %s interrupted: %s", run_dir.path, exc)


def start_generate(
    request: ScriptRequest,
    config: BackendConfig,
    *,
    store: RunStore | None = None,
    fail_scenes: Iterable[int] = (),
) -> Job:
    """Write ``request`` in the background; with a store every scene is checkpointed."""
    run_dir = store.create(request, config.settings()) if store is not None else None
    lane = Lane(
        request_label(request),
        request,
        run_dir,
        secrets=config.key_values(),
    )
    run_path = str(run_dir.path) if run_dir else None
    task = _Task("generate", request, run_path, config, tuple(fail_scenes))
    return Job("generate", [lane]).start([task])


def resume_config(run_dir: RunDir, config: BackendConfig | None = None) -> BackendConfig:
    """The backend a run was saved with; its keys from ``config`` (the screen) or the env."""
    saved = config_from_settings(run_dir.backend_settings())
    if saved.kind == "openai" and config is not None and config.api_keys:
        saved = saved.model_copy(update={"api_keys": list(config.api_keys)})
    return saved


def start_resume(run_dir: RunDir, config: BackendConfig | None = None) -> Job:
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
    task = _Task("resume", request, str(run_dir.path), backend_config)
    return Job("resume", [lane]).start([task])


class Tuning(NamedTuple):
    """What a plan entry adds to its (strategy, size): backup calls, a size found at run time
    (the size is then its maximum), or both."""

    hedge: bool = False
    adaptive: bool = False

    def overrides(self, base: ScriptRequest) -> dict[str, Any]:
        """The fields it turns on; the base request's own settings, if any, are kept."""
        changes: dict[str, Any] = {}
        if self.hedge:
            changes["hedge"] = base.hedge or HedgeSettings()
        if self.adaptive:
            changes["adaptive"] = base.adaptive or AdaptiveSettings()
        return changes


Size = int | Literal["adaptive"]
# (strategy, size) as before; a third item when the lane hedges or adapts its concurrency
PlanEntry = tuple[StrategyName, int] | tuple[StrategyName, int, Tuning]


def comparison_plan(
    batch_sizes: Iterable[Size] = DEFAULT_BATCH_SIZES,
    windows: Iterable[Size] = (),
    outline_windows: Iterable[Size] = (),
    *,
    sequential: bool = True,
    hedged: bool = False,
    adaptive_max: int = DEFAULT_ADAPTIVE_MAX,
) -> list[PlanEntry]:
    """Sequential first (the baseline), then each strategy's sizes, ascending, once each.

    ``"adaptive"`` among a strategy's sizes adds a lane whose concurrency is found at run
    time, up to ``adaptive_max``, after the fixed sizes. ``hedged`` follows every configuration
    but the sequential baseline with the same one hedged ("batched(5)", "batched(5)+hedge"),
    so that both meet the same drawn latencies, hangs included.
    """
    plan: list[PlanEntry] = [("sequential", 1)] if sequential else []
    chosen: tuple[tuple[StrategyName, Iterable[Size]], ...] = (
        ("batched", batch_sizes),
        ("windowed", windows),
        ("outline", outline_windows),
    )
    for strategy, sizes in chosen:
        wanted = set(sizes)
        for size in sorted(s for s in wanted if s != ADAPTIVE):
            plan.append((strategy, int(size)))
            if hedged:
                plan.append((strategy, int(size), Tuning(hedge=True)))
        if ADAPTIVE in wanted:
            plan.append((strategy, adaptive_max, Tuning(adaptive=True)))
            if hedged:
                plan.append((strategy, adaptive_max, Tuning(hedge=True, adaptive=True)))
    return plan


def measures_sequential(config: BackendConfig, asked: bool | None = None) -> bool:
    """Simulated calls are free, so the sequential baseline is run; on a paid API it is
    estimated unless asked for."""
    return config.kind == "simulated" if asked is None else asked


def plan_requests(
    base: ScriptRequest, plan: Sequence[PlanEntry], measure_sequential: bool
) -> list[ScriptRequest]:
    """One request per configuration of ``plan``: the same work, scheduled differently."""
    if not measure_sequential:
        plan = [p for p in plan if p[0] != "sequential"]
    if not plan:
        raise InvalidRequestError("choose at least one configuration to compare", "plan")
    fields = base.model_dump()
    requests = []
    for entry in plan:
        tuning = entry[2] if len(entry) == 3 else Tuning()
        changes = {"strategy": entry[0], "concurrency": entry[1], **tuning.overrides(base)}
        requests.append(ScriptRequest.build(**{**fields, **changes}))
    return requests


def start_comparison(
    base: ScriptRequest,
    plan: Sequence[PlanEntry],
    config: BackendConfig,
    *,
    store: RunStore | None = None,
    measure_sequential: bool | None = None,
) -> Job:
    """The same request under every configuration of ``plan``, at once, side by side.

    Each lane has its own backend with the same seed, so on the simulated backend every lane
    meets the same drawn latencies and only scheduling differs. On a paid API the sequential
    run is skipped unless ``measure_sequential``; its time is then estimated.
    """
    measure = measures_sequential(config, measure_sequential)
    requests = plan_requests(base, plan, measure)
    lanes: list[Lane] = []
    tasks: list[_Task] = []
    for request in requests:
        run_dir = store.create(request, config.settings()) if store is not None else None
        label = request_label(request)
        lanes.append(Lane(label, request, run_dir, secrets=config.key_values()))
        tasks.append(_Task("generate", request, str(run_dir.path) if run_dir else None, config))
    return Job("compare", lanes, estimated_baseline=not measure).start(tasks)
