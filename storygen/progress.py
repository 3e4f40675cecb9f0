"""Progress bars fed by engine events: a widget in Jupyter, text in a terminal (tqdm.auto)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from storygen.events import Event, RunFailed, RunFinished, RunStarted, SceneFinished, SceneRetrying


class LaneBar:
    """One bar per run. tqdm redraws at most every ``mininterval`` seconds, so a 10,000-scene
    run does not print a line per scene nor flood a notebook with widget messages."""

    def __init__(self, label: str, position: int = 0, **options: Any) -> None:
        self.label, self.position, self.options = label, position, options
        self.bar: Any = None
        self.retries = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.bar = tqdm(
                total=event.total,
                initial=event.already_done,
                desc=self.label,
                unit="scene",
                position=self.position,
                mininterval=0.2,
                **{"leave": True, **self.options},
            )
        elif self.bar is None:
            return
        elif isinstance(event, SceneFinished):
            self.bar.update(1)
        elif isinstance(event, SceneRetrying):
            self.retries += 1
            self.bar.set_postfix(retries=self.retries, refresh=False)
        elif isinstance(event, RunFinished | RunFailed):
            if isinstance(event, RunFailed):
                self.bar.set_postfix_str("failed", refresh=False)
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
