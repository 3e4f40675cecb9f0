"""Shared helpers: a fast simulated world and wrappers that inject faults into it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storygen import (
    Generation,
    RetryPolicy,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
)
from storygen.bulk.folder import BulkDir
from storygen.bulk.rows import parse_rows
from storygen.core.models import SceneDraft
from storygen.sim import RunningServer, SimServerConfig

ROOT = Path(__file__).resolve().parents[1]
FAST = 0.002  # a simulated call then takes ~16 ms
PAID_KEY = "sk-test-0123456789abcdef"
PRICED_MODEL = "gpt-4o-mini"  # priced, and served by serve-sim


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m storygen ARGS` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "storygen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def bulk_folder(
    tmp_path: Path, text: str, settings: dict[str, Any] | None = None, **options: object
) -> BulkDir:
    """A bulk folder of the CSV ``text`` in ``tmp_path/out``, its runs in ``tmp_path/runs``,
    set up as `bulk` does: written live, JSON, on the fast simulated backend unless
    ``settings`` (a backend's) and ``options`` say otherwise."""
    rows = parse_rows(text, "csv")
    return BulkDir.create(
        tmp_path / "out",
        source="ideas.csv",
        valid=rows.valid,
        rejected=rows.rejected,
        store=RunStore(tmp_path / "runs"),
        backend_settings=settings or SimulatedBackend(time_scale=FAST).settings(),
        options={"via": "live", "format": "json", **options},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_sim_command(*flags: str) -> Iterator[str]:
    """`python -m storygen serve-sim --port P FLAGS`, started as a user starts it: its URL
    once /sim/stats answers; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storygen", "serve-sim", "--port", str(port), *flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # poll until it answers
            try:
                urllib.request.urlopen(f"{url}/sim/stats", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"serve-sim did not start: {proc.communicate()[0]}")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def request_75() -> ScriptRequest:
    return ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)


def fast_policy(attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, initial_wait_s=0.001, max_wait_s=0.01)


class FaultyBackend(SimulatedBackend):
    """The real simulated backend, with scripted faults for chosen (scene, attempt) pairs."""

    def __init__(self, faults: dict[tuple[int, int], Callable[[], Exception]], **kw: object):
        super().__init__(time_scale=kw.pop("time_scale", FAST), **kw)  # type: ignore[arg-type]
        self.faults = faults
        self.attempts_seen: list[tuple[int, int]] = []

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        self.attempts_seen.append((task.index, attempt))
        make = self.faults.get((task.index, attempt))
        if make is not None:
            raise make()
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


class BusyMachine(SimulatedBackend):
    """Each call first holds the event loop for 30 ms, as other work on the machine's cores
    would: the drawn latencies, and so the ideal schedule, are unchanged."""

    async def write_scene(  # type: ignore[override]
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        time.sleep(0.03)  # the machine's other work, not a wait for anything
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


@pytest.fixture
def paid_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """OPENAI_API_KEY set, and nothing else a real environment could bring in (a base URL,
    a model, a key pool, a price table): what the spend-cap tests against serve-sim need."""
    for name in ("OPENAI_BASE_URL", "STORYGEN_MODEL", "STORYGEN_API_KEYS", "STORYGEN_PRICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", PAID_KEY)
    return PAID_KEY


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test() -> Iterator[None]:
    """A dashboard test's jobs live in the app's process-wide registry (ui/state.py): one
    left writing would count against a shared dashboard's jobs at once in the next test."""
    yield
    state = sys.modules.get("ui.state")
    if state is None:  # no dashboard in this process yet
        return
    for job in state.live_jobs():
        job.cancel()
        job.wait(30)


Serve = Callable[..., RunningServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """serve-sim on 127.0.0.1, on the fast simulated clock unless a test sets time_scale;
    every server a test started is stopped after it."""
    servers: list[RunningServer] = []

    def start(**kw: object) -> RunningServer:
        kw.setdefault("time_scale", FAST)
        server = RunningServer(SimServerConfig(**kw)).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
