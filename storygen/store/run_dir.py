"""A run directory: its files, written so that nothing is lost (the layout is in
``storygen.store``'s docstring)."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter

from storygen.core.errors import InvalidRequestError, RunLockedError, StoreError
from storygen.core.models import Bible, Outline, Scene, SceneTiming, Script, ScriptRequest

_TIMELINE = TypeAdapter(list[SceneTiming])  # pydantic's serializer: fast for many runs at once


def atomic_write(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    created: str
    status: str
    idea: str
    strategy: str
    concurrency: int
    scenes_total: int
    scenes_done: int
    wall_time_s: float | None
    error: str | None


class RunDir:
    """One run on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._checkpoint: IO[str] | None = None
        self._writing = 0  # how deep this object holds the run's lock

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the run's lock while writing it: a second writer (the CLI and the app resuming
        the same run) would pay for the same missing scenes. The OS drops the lock when its
        process dies, so a lock left by a killed process never blocks resume."""
        if self._writing:  # re-entrant for this object (resume, then the engine)
            self._writing += 1
            try:
                yield
            finally:
                self._writing -= 1
            return
        f = open(self.path / ".lock", "a+", encoding="utf-8")  # noqa: SIM115 - held below
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunLockedError(
                f"run {self.path} is being written by {holder}; wait for it to finish, "
                "or stop it and resume"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()} since {now_iso()}\n")
        f.flush()
        self._writing = 1
        try:
            yield
        finally:
            self._writing = 0
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()

    def in_use(self) -> str | None:
        """Who writes the run now ("process 123 on host since …"), None when nobody does: a
        look, not a reservation (``RunStore.delete`` takes the lock itself)."""
        try:
            f = open(self.path / ".lock", encoding="utf-8")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return None
        with f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return f.read().strip() or "another process"
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return None

    def exists(self) -> bool:
        """False once the run was deleted (from another page or process)."""
        return (self.path / "request.json").exists()

    def ensure_exists(self) -> None:
        if not self.exists():
            raise InvalidRequestError(f"run {self.run_id} no longer exists: it was deleted", "run")

    @property
    def run_id(self) -> str:
        return self.path.name

    def _read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def request(self) -> ScriptRequest:
        return ScriptRequest.model_validate(self._read_json("request.json"))

    def backend_settings(self) -> dict[str, Any]:
        return dict(self._read_json("backend.json"))

    def status(self) -> dict[str, Any]:
        try:
            return dict(self._read_json("status.json"))
        except (OSError, ValueError):  # missing, unreadable or not JSON: say so, never crash
            return {"status": "unknown"}

    def _write(self, name: str, text: str) -> None:
        path = self.path / name
        try:
            atomic_write(path, text)
        except OSError as exc:
            raise StoreError(name, path, exc) from exc

    def set_status(self, status: str, **extra: Any) -> None:
        data = {**self.status(), "status": status, "updated": now_iso(), **extra}
        self._write("status.json", json.dumps(data, indent=2))

    def save_outline(self, outline: Outline) -> None:
        self._write("outline.json", outline.model_dump_json(indent=2))

    def load_outline(self) -> Outline | None:
        p = self.path / "outline.json"
        return Outline.model_validate_json(p.read_text("utf-8")) if p.exists() else None

    def save_bible(self, bible: Bible) -> None:
        self._write("bible.json", bible.model_dump_json(indent=2))

    def load_bible(self) -> Bible | None:
        p = self.path / "bible.json"
        return Bible.model_validate_json(p.read_text("utf-8")) if p.exists() else None

    def append(self, scene: Scene, timing: SceneTiming) -> None:
        """One line a scene, flushed to the OS at once: a killed process loses nothing.

        Raises StoreError naming the file when the line cannot be written (disk full,
        read-only folder, file-size limit); the scene is then not on disk.
        """
        path = self.path / "checkpoint.jsonl"
        # pydantic's own serializer: the same JSON as json.dumps of model_dump, a few
        # times faster, which a bulk run of thousands of scenes a second feels
        line = f'{{"scene": {scene.model_dump_json()}, "timing": {timing.model_dump_json()}}}'
        try:
            if self._checkpoint is None:
                self._checkpoint = _open_for_append(path)
            self._checkpoint.write(line + "\n")
            self._checkpoint.flush()
        except OSError as exc:
            self._discard()  # its buffer holds a line that failed: never write it later
            raise StoreError("the checkpoint", path, exc) from exc

    def _discard(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(OSError):
                self._checkpoint.close()
            self._checkpoint = None

    def close(self) -> None:
        """fsync for durability; every line was already flushed, so a failure loses nothing."""
        if self._checkpoint is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._checkpoint.fileno())
            self._discard()

    def pin(self, index: int, summary: str) -> None:
        """A summary later scenes were told before its scene was written, flushed at once:
        after a kill, the scene is written again with this very summary."""
        path = self.path / "pinned.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"index": index, "summary": summary}) + "\n")
                f.flush()
        except OSError as exc:
            raise StoreError("the pinned summaries", path, exc) from exc

    def load_pinned(self) -> dict[int, str]:
        """Released summaries by scene (the first for an index wins); cut lines skipped."""
        pinned: dict[int, str] = {}
        p = self.path / "pinned.jsonl"
        if not p.exists():
            return pinned
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                pinned.setdefault(int(data["index"]), str(data["summary"]))
            except (ValueError, KeyError, TypeError):
                continue
        return pinned

    def load_lines(self) -> list[tuple[Scene, SceneTiming]]:
        """Every whole line of the checkpoint, in the order written: each scene as first
        written, then the repair pass's rows (``timing.repair``). A line cut short by a kill
        is skipped."""
        lines: list[tuple[Scene, SceneTiming]] = []
        p = self.path / "checkpoint.jsonl"
        if not p.exists():
            return lines
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                scene = Scene.model_validate(data["scene"])
                timing = SceneTiming.model_validate(data["timing"])
            except (ValueError, KeyError, TypeError):
                continue
            lines.append((scene, timing))
        return lines

    def load_checkpoint(self) -> dict[int, tuple[Scene, SceneTiming]]:
        """Finished scenes by index, the last line for an index winning: a repair row holds
        the scene the run keeps, so a repaired scene replaces the one first written."""
        return {scene.index: (scene, timing) for scene, timing in self.load_lines()}

    def write_script(self, script: Script) -> None:
        self._write("timeline.json", _TIMELINE.dump_json(script.meta.timeline).decode())
        self._write("script.json", script.model_dump_json(indent=2))

    def finish(self, script: Script) -> None:
        """The script, then the status that says it is whole: whoever reads "finished" finds
        the script. The token counts go with the status, which is all a summary of many
        runs reads."""
        self.write_script(script)
        self.set_status(
            "finished",
            error=None,
            scenes_done=script.request.scene_count,
            wall_time_s=script.meta.wall_time_s,
            prompt_tokens=script.meta.prompt_tokens,
            completion_tokens=script.meta.completion_tokens,
            findings=len(script.findings),  # a bulk summary reads this, not the script
        )

    def script_text(self) -> str:
        """script.json as it is on disk: a version keeps these very bytes."""
        return (self.path / "script.json").read_text("utf-8")

    def save_script_text(self, text: str) -> None:
        """script.json alone, atomically: a change leaves the timeline as the run made it."""
        self._write("script.json", text)

    def save_version(self, number: int, text: str) -> None:
        """``text`` (a script) as versions/NNNN.json. Never overwritten: the same text again
        is a change retried after a kill and is left as it is; other text is refused."""
        path = self.path / "versions" / f"{number:04d}.json"
        if path.exists():
            if path.read_text("utf-8") == text:
                return
            raise InvalidRequestError(
                f"{path} already holds another script; versions are never overwritten "
                "(was history.jsonl edited by hand?)",
                "version",
            )
        try:
            path.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError("the versions folder", path.parent, exc) from exc
        self._write(f"versions/{number:04d}.json", text)

    def version_text(self, number: int) -> str:
        return (self.path / "versions" / f"{number:04d}.json").read_text("utf-8")

    def read_history(self) -> list[dict[str, Any]]:
        """history.jsonl, one change a line, oldest first; none before the first change."""
        p = self.path / "history.jsonl"
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text("utf-8").splitlines() if line.strip()]

    def write_history(self, changes: list[dict[str, Any]]) -> None:
        """The whole file, atomically: a change that fails later can be taken back whole."""
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in changes)
        self._write("history.jsonl", text)

    def finished_script(self) -> Script | None:
        """The script of a run that finished, None while anything is missing."""
        return self.load_script() if self.status().get("status") == "finished" else None

    def load_script(self) -> Script | None:
        p = self.path / "script.json"
        return Script.model_validate_json(p.read_text("utf-8")) if p.exists() else None

    def info(self) -> RunInfo:
        request, status = self.request(), self.status()
        done = status.get("scenes_done")
        if done is None or status.get("status") in ("running", "repairing"):
            done = len(self.load_checkpoint())
        return RunInfo(
            run_id=self.run_id,
            path=self.path,
            created=str(status.get("created", "")),
            status=str(status.get("status", "unknown")),
            idea=request.idea,
            strategy=request.strategy,
            concurrency=request.concurrency,
            scenes_total=request.scene_count,
            scenes_done=int(done),
            wall_time_s=status.get("wall_time_s"),
            error=status.get("error"),
        )


def _open_for_append(path: Path) -> IO[str]:
    """Open the checkpoint; a last line cut short (a kill, a full disk) gets its newline
    first, so the next scene starts a line of its own instead of joining the broken one."""
    f = open(path, "a+b")  # noqa: SIM115 - kept open for the run, closed by RunDir.close
    try:
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
                f.flush()
    except BaseException:
        f.close()
        raise
    return io.TextIOWrapper(f, encoding="utf-8", newline="\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
