"""The folder of all runs: create, open, list and delete run directories."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storygen.core.errors import InvalidRequestError, RunLockedError
from storygen.core.models import ScriptRequest
from storygen.core.secrets import without_secrets
from storygen.store.run_dir import RunDir, RunInfo, atomic_write, now_iso

WORKSPACES = "workspaces"  # <root>/workspaces/<id>/: a store of its own per visitor
# Letters, digits, - and _: a workspace id is a folder name, so it can never name a path
# outside the store (no "..", no "/").
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class RunStore:
    """The folder of all runs (default ``./runs``)."""

    def __init__(self, root: str | Path = "runs") -> None:
        self.root = Path(root)

    def workspace(self, workspace_id: str) -> RunStore:
        """The store of one workspace of a shared deployment: a folder of this one, with its
        own runs and bulk runs, so nothing in it is listed, opened or deleted from another."""
        if not WORKSPACE_ID.fullmatch(workspace_id):
            raise InvalidRequestError(
                f"workspace id must be 8 to 64 letters, digits, - or _ (got {workspace_id!r})",
                "workspace",
            )
        return RunStore(self.root / WORKSPACES / workspace_id)

    def create(self, request: ScriptRequest, backend_settings: dict[str, Any]) -> RunDir:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run = RunDir(self.root / f"{stamp}-{request.strategy}-{uuid.uuid4().hex[:6]}")
        run.path.mkdir(parents=True, exist_ok=False)
        atomic_write(run.path / "request.json", request.model_dump_json(indent=2))
        atomic_write(
            run.path / "backend.json",
            json.dumps(without_secrets(backend_settings), indent=2),
        )
        run.set_status("running", created=now_iso())
        return run

    def open(self, run: str | Path) -> RunDir:
        """A run by path, or by id inside this store."""
        path = Path(run)
        if not (path / "request.json").exists():
            path = self.root / str(run)
        if not (path / "request.json").exists():
            raise InvalidRequestError(
                f"no run at {run!s}: expected a run directory holding request.json",
                "run_dir",
            )
        return RunDir(path)

    def own(self, run_id: str) -> RunDir | None:
        """The run of this store named ``run_id`` (a folder name, never a path), or None: what
        a page address may name, so that it can only ever open a run of its own store."""
        if not WORKSPACE_ID.fullmatch(run_id):
            return None
        run = RunDir(self.root / run_id)
        return run if (run.path / "request.json").exists() else None

    def __iter__(self) -> Iterator[RunDir]:
        if not self.root.exists():
            return iter(())
        dirs = [p for p in self.root.iterdir() if (p / "request.json").exists()]
        return iter(RunDir(p) for p in sorted(dirs, reverse=True))

    def list(self) -> list[RunInfo]:
        """Newest first; a run deleted while the list is read is left out."""
        infos: list[RunInfo] = []
        for run in self:
            try:
                infos.append(run.info())
            except FileNotFoundError:
                if run.exists():
                    raise
        return infos

    def delete(self, run: str | Path) -> None:
        """Refused (RunLockedError naming the holder) while the run is being written: its
        writer would fail at the end. Holds the lock, so no writer starts on a half-deleted run."""
        run_dir = self.open(run)
        try:
            with run_dir.writer():
                shutil.rmtree(run_dir.path)
        except RunLockedError:
            holder = run_dir.in_use() or "another process"
            raise RunLockedError(
                f"cannot delete run {run_dir.run_id}: it is being written by {holder}; "
                "wait for it to finish, or cancel it first"
            ) from None
