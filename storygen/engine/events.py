"""Typed progress events, how a run tells its subscribers, and a thread-safe tracker that
pages and bars can poll."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from storygen.core.models import Scene, SceneTiming, Script


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    total: int
    already_done: int
    strategy: str
    concurrency: int


@dataclass(frozen=True)
class OutlineFinished:
    at: float


@dataclass(frozen=True)
class BibleFinished:
    """The story bible is known (written now, or read back on resume): scenes may start."""

    at: float


@dataclass(frozen=True)
class SceneStarted:
    index: int
    group: int
    at: float


@dataclass(frozen=True)
class SceneSummarized:
    """Scene ``index``'s summary streamed in and was released to later scenes (pipelined)."""

    index: int
    summary: str
    at: float


@dataclass(frozen=True)
class SceneRetrying:
    index: int
    attempt: int
    error: str
    wait_s: float


@dataclass(frozen=True)
class SceneFinished:
    scene: Scene
    timing: SceneTiming


@dataclass(frozen=True)
class SceneFailed:
    index: int
    error: str


@dataclass(frozen=True)
class BatchFinished:
    group: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RunFinished:
    script: Script


@dataclass(frozen=True)
class RunFailed:
    error: str
    scene_index: int | None


Event = (
    RunStarted
    | OutlineFinished
    | BibleFinished
    | SceneStarted
    | SceneSummarized
    | SceneRetrying
    | SceneFinished
    | SceneFailed
    | BatchFinished
    | RunFinished
    | RunFailed
)
Subscriber = Callable[[Event], None]

log = logging.getLogger("storygen")


class Broadcast:
    """Tells every subscriber. One that raises is a UI bug, not a reason to lose a run: it
    is logged once and the run goes on (the run store, not a subscriber, keeps the scenes)."""

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.subscribers = list(subscribers)
        self._broken: set[int] = set()

    def __call__(self, event: Event) -> None:
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


@dataclass(frozen=True)
class Snapshot:
    status: str  # "pending" | "running" | "finished" | "failed"
    total: int
    done: int
    in_flight: int
    retries: int
    current_group: int
    elapsed_s: float
    eta_s: float | None
    error: str | None
    scenes: tuple[Scene, ...] = field(default=())
    timings: tuple[SceneTiming, ...] = field(default=())

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class ProgressTracker:
    """Folds events into counts; ETA from the completion rate observed in this run."""

    def __init__(self, keep_scenes: bool = True) -> None:
        self._lock = threading.Lock()
        self._keep = keep_scenes
        self._status = "pending"
        self._total = self._done = self._resumed = self._in_flight = self._retries = 0
        self._group = 0
        self._t0: float | None = None
        self._t_end: float | None = None
        self._error: str | None = None
        self._scenes: list[Scene] = []
        self._timings: list[SceneTiming] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._status, self._total = "running", event.total
            self._done = self._resumed = event.already_done
            self._t0 = time.perf_counter()
        elif isinstance(event, SceneStarted):
            self._in_flight += 1
            self._group = max(self._group, event.group)
        elif isinstance(event, SceneRetrying):
            self._retries += 1
        elif isinstance(event, SceneFinished):
            self._in_flight -= 1
            self._done += 1
            if self._keep:
                self._scenes.append(event.scene)
                self._timings.append(event.timing)
        elif isinstance(event, SceneFailed):
            self._in_flight -= 1
        elif isinstance(event, RunFinished):
            self._status, self._t_end = "finished", time.perf_counter()
        elif isinstance(event, RunFailed):
            self._status, self._error = "failed", event.error
            self._t_end = time.perf_counter()

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._t_end or time.perf_counter()
            elapsed = now - self._t0 if self._t0 is not None else 0.0
            written = self._done - self._resumed
            eta: float | None = None
            if self._status == "finished":
                eta = 0.0
            elif written > 0 and self._status == "running":
                eta = (self._total - self._done) * elapsed / written
            return Snapshot(
                status=self._status,
                total=self._total,
                done=self._done,
                in_flight=self._in_flight,
                retries=self._retries,
                current_group=self._group,
                elapsed_s=elapsed,
                eta_s=eta,
                error=self._error,
                scenes=tuple(sorted(self._scenes, key=lambda s: s.index)),
                timings=tuple(self._timings),
            )
