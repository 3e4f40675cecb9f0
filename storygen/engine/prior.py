"""What an earlier attempt at a run already wrote: where a resumed run starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

from storygen.core.models import Bible, Outline, Scene, SceneTiming
from storygen.store import RunDir


@dataclass
class Prior:
    """What an earlier attempt at this run already wrote (for resume)."""

    scenes: dict[int, tuple[Scene, SceneTiming]] = field(default_factory=dict)
    outline: Outline | None = None
    bible: Bible | None = None

    @classmethod
    def from_run(cls, run_dir: RunDir) -> Prior:
        return cls(
            scenes=run_dir.load_checkpoint(),
            outline=run_dir.load_outline(),
            bible=run_dir.load_bible(),
        )

    @classmethod
    def for_resume(cls, run_dir: RunDir) -> Prior:
        """What is done, with the run marked running again. Hold the run's lock (``writer``)
        first, so that nobody else adds to it between the reading and the writing."""
        prior = cls.from_run(run_dir)
        run_dir.set_status("running", error=None)
        return prior
