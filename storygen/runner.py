"""The synchronous face of the engine: generate and resume, with a run store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storygen.backends.base import Backend
from storygen.backends.simulated import SimulatedBackend
from storygen.config import config_from_settings
from storygen.engine import Prior, run_async
from storygen.events import Subscriber
from storygen.models import Script, ScriptRequest
from storygen.retry import RetryPolicy
from storygen.store import RunDir, RunStore


def backend_from_settings(settings: dict[str, Any]) -> Backend:
    """Rebuild a backend from what a run saved (keys come from the environment)."""
    return config_from_settings(settings).build()


def _run(coro: Any) -> Script:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("generate() was called inside an event loop; await run_async() instead")


def generate(
    request: ScriptRequest,
    backend: Backend | None = None,
    *,
    store: RunStore | None = None,
    policy: RetryPolicy | None = None,
    subscribers: Iterable[Subscriber] = (),
    run_dir: RunDir | None = None,
) -> Script:
    """Write a whole script; with a store, every finished scene is checkpointed."""
    backend = backend or SimulatedBackend()
    if run_dir is None and store is not None:
        run_dir = store.create(request, backend.settings())
    return _run(
        run_async(request, backend, policy=policy, subscribers=subscribers, run_dir=run_dir)
    )


def resume(
    run: str | Path | RunDir,
    backend: Backend | None = None,
    *,
    policy: RetryPolicy | None = None,
    subscribers: Iterable[Subscriber] = (),
) -> Script:
    """Write only the scenes a failed or interrupted run is missing."""
    run_dir = run if isinstance(run, RunDir) else RunStore().open(run)
    request = run_dir.request()
    backend = backend or backend_from_settings(run_dir.backend_settings())
    prior = Prior.from_run(run_dir)
    run_dir.set_status("running", error=None)
    return _run(
        run_async(
            request,
            backend,
            policy=policy,
            subscribers=subscribers,
            run_dir=run_dir,
            prior=prior,
        )
    )
