"""One run's live state in the app's process, fed by its child's events: what a page polls.

The tracker's snapshot is thread-safe, so the listening thread writes while a page reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Literal

from storygen.core.models import Scene, SceneTiming, Script, ScriptRequest
from storygen.core.secrets import masked
from storygen.engine.events import ProgressTracker, Snapshot
from storygen.store import RunDir

Status = Literal["running", "finished", "failed", "cancelled", "capped"]


class Lane:
    """One run's live state: progress, then its script, a clear error, or, when cancelled,
    a note of the scenes it kept."""

    def __init__(
        self,
        label: str,
        request: ScriptRequest,
        run_dir: RunDir | None = None,
        *,
        prior: dict[int, tuple[Scene, SceneTiming]] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.label = label
        self.request = request
        self.run_dir = run_dir
        self.prior = dict(prior or {})
        self.tracker = ProgressTracker()
        self.result: Script | None = None
        self.error: str | None = None
        self.failed_scene: int | None = None
        self.cancelled = False
        self.capped = False  # stopped by the spend cap: interrupted on disk, resumable
        self.note: str | None = None  # a cancelled lane's "cancelled: 4 of 10 scenes kept; ..."
        self._secrets = tuple(s for s in secrets if s)
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def status(self) -> Status:
        if not self.done:
            return "running"
        if self.cancelled:
            return "cancelled"
        if self.capped:
            return "capped"
        return "failed" if self.error is not None else "finished"

    def snapshot(self) -> Snapshot:
        return self.tracker.snapshot()

    def scenes(self, snapshot: Snapshot | None = None) -> list[Scene]:
        """Scenes written so far, a resumed run's earlier ones included, in index order."""
        by_index = {k: scene for k, (scene, _) in self.prior.items()}
        by_index.update({s.index: s for s in (snapshot or self.snapshot()).scenes})
        return [by_index[k] for k in sorted(by_index)]

    def timings(self, snapshot: Snapshot | None = None) -> list[SceneTiming]:
        by_index = {k: timing for k, (_, timing) in self.prior.items()}
        by_index.update({t.index: t for t in (snapshot or self.snapshot()).timings})
        return [by_index[k] for k in sorted(by_index)]

    def finish(self, script: Script) -> None:
        self.result = script
        self._done.set()

    def fail(self, message: str, scene_index: int | None = None) -> None:
        self.error, self.failed_scene = masked(message, self._secrets), scene_index
        self._done.set()

    def stop_at_cap(self, message: str) -> None:
        """The spend cap stopped the run: "interrupted" on disk with every finished scene, as
        a Cancel leaves it; ``message`` says what was spent."""
        self.note, self.capped = message, True
        self._done.set()

    def cancel(self) -> None:
        """Stopped on purpose: the run is "interrupted" on disk with every finished scene."""
        kept, total = len(self.scenes()), self.request.scene_count
        then = "; Resume finishes it" if self.run_dir is not None else ""
        self.note = f"cancelled: {kept} of {total} scenes kept{then}"
        self.cancelled = True
        self._done.set()
