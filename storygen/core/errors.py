"""Errors storygen raises: one type per thing a caller can act on."""

from __future__ import annotations


class StoryGenError(Exception):
    """Base of every error storygen raises on purpose."""


class InvalidRequestError(StoryGenError, ValueError):
    """Bad input: the message names the field and what is allowed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BackendError(StoryGenError):
    """A call to a backend failed."""


class TransientError(BackendError):
    """Worth retrying: timeouts, dropped connections, 5xx, malformed output."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The provider said "too many requests"; ``retry_after`` is its hint in seconds."""


class MalformedOutputError(TransientError):
    """The model answered, but not with what was asked; the retry tells it why."""


class RunawayError(MalformedOutputError):
    """An answer cut off while streaming because it ran away (whitespace, a loop, far too
    long): retried with this message as feedback, and counted as a runaway."""


class PermanentError(BackendError):
    """Retrying cannot help: bad key, bad request, unknown model, no quota."""


class StoreError(StoryGenError):
    """The run store could not be written (disk full, read-only, a file-size limit)."""

    def __init__(self, what: str, path: object, cause: OSError) -> None:
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(f"could not write {what} in {path}: {reason}")
        self.path = str(path)
        self.errno = cause.errno


class RunLockedError(StoryGenError):
    """Another process is writing this run: two writers would pay twice for its scenes."""


class RunFailedError(StoryGenError):
    """A run stopped; finished scenes are in the run store and ``resume`` continues it."""

    def __init__(
        self, message: str, scene_index: int | None = None, run_dir: str | None = None
    ) -> None:
        super().__init__(message)
        self.scene_index = scene_index
        self.run_dir = run_dir
