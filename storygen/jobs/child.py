"""The one child-process job: a fresh interpreter writes the runs, a daemon thread here reads
its messages from a pipe, and Cancel is SIGINT, as Ctrl-C would be.

Why a process and not a thread: the dashboard's numbers are ratios of wall times, and in the
app's process every UI refresh holds the GIL for milliseconds. That delay lands on each of
a sequential run's 75 steps far more than on the 8 steps of batches of 10, and inflated
speedups by ~15% at a demo time scale. The child is a fresh interpreter that imports only
storygen (never the caller's __main__), so the engine keeps its own clock.

Both ends are here: ``ChildJob`` in the app's process, ``Child`` in the child. A job names
its child's entry point as "module:function"; the function builds a ``Child`` and calls
``main()``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, ClassVar

from storygen.core.secrets import masked


def spawn_entry(entry: str, payload: bytes) -> tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]:
    """A fresh interpreter running ``entry`` ("module:function") with the pipe's file
    descriptor; ``payload`` on its stdin, its events back on a private pipe, and its stderr
    in a temporary file the listener reads once the child exits."""
    module, _, function = entry.rpartition(":")
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


class ChildJob(ABC):
    """A child process writing runs, and the daemon thread that listens to it.

    A subclass says where its child starts (``entry``), what each message means
    (``_receive``) and how to end whatever the child left unsaid when it exits
    (``_ended``). Errors shown to the user pass through ``masked``: a provider may echo
    the key back.
    """

    entry: ClassVar[str]  # "module:function", run in the child with the pipe's descriptor

    def __init__(self, name: str, *, secrets: Iterable[str] = ()) -> None:
        self.name = name  # its listening thread's
        self.child_pid: int | None = None
        self.cancel_requested = False
        self._secrets = tuple(s for s in secrets if s)
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    @property
    @abstractmethod
    def done(self) -> bool: ...

    @abstractmethod
    def _receive(self, message: tuple[Any, ...]) -> None:
        """One message the child sent."""

    @abstractmethod
    def _ended(self, reason: str) -> None:
        """The child exited (``reason``: its exit code and last line of stderr); end what it
        did not end itself, as cancelled when ``cancel_requested``, else as failed."""

    def masked(self, text: str) -> str:
        return masked(text, self._secrets)

    def _spawn(self, payload: bytes) -> None:
        child, events, errors = spawn_entry(self.entry, payload)
        self._child, self.child_pid = child, child.pid
        self._thread = threading.Thread(
            target=self._listen, args=(child, events, errors), name=self.name, daemon=True
        )
        self._thread.start()

    def _listen(self, child: subprocess.Popen[bytes], events: IO[bytes], errors: IO[bytes]) -> None:
        """Feed the child's messages to ``_receive`` until it closes the pipe."""
        try:
            with events:
                while True:
                    try:
                        message = pickle.load(events)
                    except EOFError:
                        break
                    self._receive(message)
            code = child.wait()
            with errors:
                errors.seek(0)
                last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            reason = f"exit {code}: {' '.join(last)}" if last else f"exit {code}"
        except Exception as exc:  # a page must never poll a job that can no longer end
            reason = f"{type(exc).__name__}: {exc}"
        self._ended(reason)

    def cancel(self) -> None:
        """Stop the child as Ctrl-C would (SIGINT): each of its runs is then "interrupted" on
        disk with every finished scene kept, and resumes later. Nothing happens once the child
        has ended, or when it was already asked."""
        child = self._child
        if child is None or self.cancel_requested or self.done:
            return
        self.cancel_requested = True
        child.send_signal(signal.SIGINT)  # a no-op once the child has exited and been reaped

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job is done (for scripts and tests; pages poll ``done``)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done


class Child(ABC):
    """The child's end: its payload from stdin, its messages pickled onto the pipe.

    SIGINT (Cancel, or Ctrl-C where the app runs) reaches ``work`` as KeyboardInterrupt once
    the engines have marked their runs "interrupted"; ``cancelled`` then says so for what
    was still waiting. If the app stops listening, the child finishes its runs anyway: they
    are on disk.
    """

    def __init__(self, fd: int) -> None:
        self._out = os.fdopen(fd, "wb")
        self.listening = True

    @abstractmethod
    def work(self) -> None:
        """Read the payload (``payload()``) and write every run."""

    @abstractmethod
    def cancelled(self) -> None:
        """SIGINT came: end what is still unfinished, and say so."""

    @staticmethod
    def payload() -> Any:
        return pickle.load(sys.stdin.buffer)

    def send(self, message: tuple[Any, ...]) -> None:
        if not self.listening:
            return
        try:
            pickle.dump(message, self._out)
            self._out.flush()
        except OSError:  # the app went away: finish the runs anyway, they are on disk
            self.listening = False

    def main(self) -> None:
        try:
            self.work()
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut this short
            self.cancelled()
        finally:
            with contextlib.suppress(OSError):
                self._out.close()
