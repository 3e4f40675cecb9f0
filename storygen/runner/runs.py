"""The synchronous face of the engine: generate and resume, with a run store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

from storygen.backends.config import BackendConfig, config_from_settings
from storygen.backends.factory import build_backend
from storygen.backends.simulated import SimulatedBackend
from storygen.core.models import Script, ScriptRequest
from storygen.core.spend import SpendCap
from storygen.core.tasks import Backend
from storygen.engine import run_async
from storygen.engine.events import Subscriber
from storygen.policies.retry import RetryPolicy
from storygen.runner.lanes import LaneRun, run_lane
from storygen.store import RunDir, RunStore

T = TypeVar("T")


def backend_from_settings(settings: dict[str, Any]) -> Backend:
    """Rebuild a backend from what a run saved (keys come from the environment)."""
    return build_backend(config_from_settings(settings))


def resume_config(run_dir: RunDir, config: BackendConfig | None = None) -> BackendConfig:
    """The backend a run was saved with; its keys from ``config`` (the screen) or the env."""
    saved = config_from_settings(run_dir.backend_settings())
    if saved.kind == "openai" and config is not None and config.api_keys:
        saved = saved.model_copy(update={"api_keys": list(config.api_keys)})
    return saved


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run the engine to the end from synchronous code, with or without a running loop.

    A notebook cell already runs inside the kernel's event loop, where ``asyncio.run`` is
    refused: the engine then gets its own loop in a worker thread and the cell blocks until
    it is done. Interrupting the kernel (KeyboardInterrupt here) cancels the run on its loop,
    so the engine marks it "interrupted" on disk before the interrupt reaches the caller.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _run_in_thread(coro)


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            done.set()

    threading.Thread(target=target, name="storygen-engine", daemon=True).start()
    # An Event, not Thread.join: on Python 3.11 a join interrupted by Ctrl-C marks the
    # thread as stopped while it still runs, and the next join returns at once.
    try:
        while not done.wait(0.05):  # short waits, so the interrupt is seen at once
            pass
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)
        done.wait()  # the engine marks the run "interrupted" on disk, then stops
        raise
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def generate(
    request: ScriptRequest,
    backend: Backend | None = None,
    *,
    store: RunStore | None = None,
    policy: RetryPolicy | None = None,
    subscribers: Iterable[Subscriber] = (),
    run_dir: RunDir | None = None,
    spend: SpendCap | None = None,
) -> Script:
    """Write a whole script; with a store, every finished scene is checkpointed. ``spend``
    stops starting calls once what they cost reaches its cap (the run is then interrupted)."""
    backend = backend or SimulatedBackend()
    if run_dir is None and store is not None:
        run_dir = store.create(request, backend.settings())
    return run_sync(
        run_async(
            request, backend, policy=policy, subscribers=subscribers, run_dir=run_dir, spend=spend
        )
    )


def resume(
    run: str | Path | RunDir,
    backend: Backend | None = None,
    *,
    policy: RetryPolicy | None = None,
    subscribers: Iterable[Subscriber] = (),
    spend: SpendCap | None = None,
) -> Script:
    """Write only the scenes a failed or interrupted run is missing."""
    run_dir = run if isinstance(run, RunDir) else RunStore().open(run)
    with run_dir.writer():  # before reading what is done: nobody else may add to it now
        if done := run_dir.finished_script():
            return done  # nothing is missing
        lane = LaneRun(
            run_dir.request(),
            backend or backend_from_settings(run_dir.backend_settings()),
            run_dir,
            resume=True,
            subscribers=tuple(subscribers),
            policy=policy,
            spend=spend,
        )
        return run_sync(run_lane(lane))
