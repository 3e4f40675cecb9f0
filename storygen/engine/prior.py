"""What an earlier attempt at a run already wrote: where a resumed run starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

from storygen.core.models import Bible, Outline, Scene, SceneTiming
from storygen.store import RunDir


@dataclass
class Prior:
    """What an earlier attempt at this run already wrote (for resume).

    ``scenes`` are the scenes as first written: the repair pass plans from them, so a
    resumed pass picks the very scenes the killed one picked. ``repairs`` are the repair
    calls already made, in order, each with the scene the run keeps (the repaired one, or
    the first when the repair was no better): a resumed pass does not make them again.
    """

    scenes: dict[int, tuple[Scene, SceneTiming]] = field(default_factory=dict)
    outline: Outline | None = None
    bible: Bible | None = None
    repairs: list[tuple[Scene, SceneTiming]] = field(default_factory=list)
    pinned: dict[int, str] = field(default_factory=dict)  # summaries released, not yet written

    @classmethod
    def from_run(cls, run_dir: RunDir) -> Prior:
        lines = run_dir.load_lines()
        first: dict[int, tuple[Scene, SceneTiming]] = {}
        for scene, timing in lines:
            if not timing.repair:
                first.setdefault(scene.index, (scene, timing))
        return cls(
            scenes=first,
            outline=run_dir.load_outline(),
            bible=run_dir.load_bible(),
            repairs=[(s, t) for s, t in lines if t.repair and s.index in first],
            pinned={k: v for k, v in run_dir.load_pinned().items() if k not in first},
        )

    @classmethod
    def for_resume(cls, run_dir: RunDir) -> Prior:
        """What is done, with the run marked running again. Hold the run's lock (``writer``)
        first, so that nobody else adds to it between the reading and the writing."""
        prior = cls.from_run(run_dir)
        run_dir.set_status("running", error=None)
        return prior
