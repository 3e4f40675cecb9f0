"""serve-sim in another process, for the benchmarks that go over real HTTP."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

from storygen.backends.config import BackendConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_serve_sim(time_scale: float, *flags: str) -> Iterator[str]:
    """``python -m storygen serve-sim --time-scale S FLAGS...``; yields its /v1 URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storygen", "serve-sim", "--port", str(port),
         "--time-scale", str(time_scale), *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/sim/stats", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"serve-sim did not start (flags: {flags})") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sim_config(url: str) -> BackendConfig:
    """The OpenAI-compatible backend every HTTP bench points at serve-sim: one bench key,
    the simulator's model, and no client-side cap on calls in flight."""
    return BackendConfig.build_config(
        kind="openai",
        base_url=url,
        model="storygen-sim-1",
        api_keys=["sk-bench-0000000000"],
        per_key_concurrency=100,
    )
