"""The serve-sim app: its routes put together, run in a background thread or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from storygen.sim.auth import authorize
from storygen.sim.batch_api_routes import batch_router
from storygen.sim.chat_routes import chat_router
from storygen.sim.config import SimServerConfig
from storygen.sim.state import SimServerState


def _info_router(config: SimServerConfig, state: SimServerState) -> APIRouter:
    """What the server saw and which models it serves."""
    router = APIRouter()

    @router.get("/sim/stats")
    async def stats() -> Any:
        """What the server saw, with keys masked: for benchmarks and curious users."""
        return state.stats(config)

    @router.get("/v1/models")
    async def models(request: Request) -> Any:
        key = authorize(config, request)
        if isinstance(key, JSONResponse):
            return key
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "storygen"}
            for m in config.models
        ]
        return {"object": "list", "data": data}

    return router


def create_app(config: SimServerConfig, state: SimServerState | None = None) -> FastAPI:
    state = state or SimServerState()
    app = FastAPI(title="storygen serve-sim")
    app.state.sim = state
    app.include_router(_info_router(config, state))
    app.include_router(chat_router(config, state))
    app.include_router(batch_router(config, state))
    return app


class RunningServer:
    """A serve-sim in a background thread, on a port the OS picked."""

    def __init__(self, config: SimServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimServerState()
        self.config = config
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        uv = uvicorn.Config(
            create_app(config, self.state), log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(uv)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 10.0) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("serve-sim did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(config: SimServerConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Blocking, for ``python -m storygen serve-sim``."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", lifespan="off")
