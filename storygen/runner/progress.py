"""Progress bars fed by engine events: a widget in Jupyter, text in a terminal (tqdm.auto)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from storygen.engine.events import (
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    SceneFailed,
    SceneFinished,
    SceneRetrying,
    SceneStarted,
)


class LaneBar:
    """One bar per run. tqdm redraws at most every ``mininterval`` seconds, so a 10,000-scene
    run does not print a line per scene nor flood a notebook with widget messages.

    Its label says what fits the strategy: the current batch for batched runs, the calls in
    flight for the others (they have no batches), and the retries so far.
    """

    def __init__(self, label: str = "", position: int = 0, **options: Any) -> None:
        self.label, self.position, self.options = label, position, options
        self.bar: Any = None
        self.batched = False
        self.batch = self.in_flight = self.retries = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.batched = event.strategy == "batched"
            self.bar = tqdm(
                total=event.total,
                initial=event.already_done,
                desc=self.label or None,
                unit="scene",
                position=self.position,
                mininterval=0.2,
                **{"leave": True, **self.options},
            )
            return
        if self.bar is None:
            return
        if isinstance(event, SceneStarted):
            self.in_flight += 1
            self.batch = max(self.batch, event.group)
        elif isinstance(event, SceneFinished | SceneFailed):
            self.in_flight -= 1
        elif isinstance(event, SceneRetrying):
            self.retries += 1
        elif isinstance(event, RunFinished | RunFailed):
            if isinstance(event, RunFailed):
                self.bar.set_postfix_str("failed", refresh=False)
            self.close()
            return
        where = {"batch": self.batch} if self.batched else {"in_flight": self.in_flight}
        self.bar.set_postfix(**where, retries=self.retries, refresh=False)
        if isinstance(event, SceneFinished):
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
