"""The Compare page in a notebook cell: ``storygen.notebook.panel()``.

A thin ipywidgets form over ``compare()``: it reads the fields, says what is wrong next to
the field, and shows the live lanes, then the summary and the charts, in its output area.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storygen.backends.config import BackendConfig
from storygen.comparison import Comparison, compare
from storygen.core.bounds import CONCURRENCY
from storygen.core.errors import InvalidRequestError, StoryGenError
from storygen.runner.plan import DEFAULT_BATCH_SIZES

try:
    import ipywidgets as widgets
    from IPython.display import display
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "storygen.notebook needs ipywidgets: pip install -r requirements-notebooks.txt"
    ) from exc


SIZES = f"{CONCURRENCY.low}-{CONCURRENCY.high}"  # "1-100", as the messages say it


def parse_sizes(text: str) -> list[int]:
    """ "3, 5, 10" -> [3, 5, 10]; anything else is an error naming what is allowed."""
    try:
        sizes = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise InvalidRequestError(
            f"batch sizes are whole numbers {SIZES} separated by commas (got {text!r})",
            "batch_sizes",
        ) from None
    if not sizes:
        raise InvalidRequestError("give at least one batch size, e.g. 3, 5, 10", "batch_sizes")
    if bad := [s for s in sizes if s not in CONCURRENCY]:
        raise InvalidRequestError(f"batch sizes must be {SIZES} (got {bad[0]})", "batch_sizes")
    return sizes


def _error_label() -> Any:
    return widgets.HTML(value="", layout=widgets.Layout(margin="0 0 0 8px"))


def _show_error(label: Any, message: str) -> None:
    label.value = f'<span style="color:#b00020">{message}</span>' if message else ""


class Panel:
    """The form, its output area, and the last Comparison it produced (``.result``)."""

    def __init__(
        self,
        idea: str,
        duration_s: float,
        batch_sizes: Iterable[int],
        time_scale: float,
        backend: BackendConfig | None,
    ) -> None:
        self.backend = backend
        self.result: Comparison | None = None
        style = {"description_width": "110px"}
        wide = widgets.Layout(width="520px")
        self.idea = widgets.Text(value=idea, description="Idea", style=style, layout=wide)
        self.duration = widgets.BoundedFloatText(
            value=duration_s, min=1, max=100000, step=8, description="Duration (s)", style=style
        )
        self.sizes = widgets.Text(
            value=", ".join(str(s) for s in batch_sizes),
            description="Batch sizes",
            placeholder="3, 5, 10",
            style=style,
        )
        self.time_scale = widgets.FloatLogSlider(
            value=time_scale,
            base=10,
            min=-3,
            max=0,
            step=0.1,
            description="Time scale",
            readout_format=".4f",
            style=style,
            disabled=backend is not None and backend.kind != "simulated",
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.idea_error, self.duration_error, self.sizes_error, self.run_error = (
            _error_label() for _ in range(4)
        )
        self.output = widgets.Output()
        self.run_button.on_click(lambda _: self.run())
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.idea, self.idea_error]),
                widgets.HBox([self.duration, self.duration_error]),
                widgets.HBox([self.sizes, self.sizes_error]),
                self.time_scale,
                widgets.HBox([self.run_button, self.run_error]),
                self.output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)

    def _read(self) -> tuple[str, list[int]] | None:
        idea = self.idea.value.strip()
        _show_error(self.idea_error, "" if idea else "write an idea (any sentence)")
        try:
            sizes = parse_sizes(self.sizes.value)
        except InvalidRequestError as exc:
            _show_error(self.sizes_error, str(exc))
            return None
        _show_error(self.sizes_error, "")
        return (idea, sizes) if idea else None

    def _label_for(self, field: str | None) -> Any:
        return {
            "idea": self.idea_error,
            "duration_s": self.duration_error,
            "concurrency": self.sizes_error,
            "batch_sizes": self.sizes_error,
        }.get(field or "", self.run_error)

    def run(self) -> Comparison | None:
        """What a click on Run does: validate, compare, then show the result below."""
        for label in (self.duration_error, self.run_error):
            _show_error(label, "")
        fields = self._read()
        if fields is None:
            return None
        idea, sizes = fields
        backend = self.backend
        time_scale = (
            self.time_scale.value if backend is None or backend.kind == "simulated" else None
        )
        self.run_button.disabled = True
        self.output.clear_output()
        try:
            with self.output:
                self.result = compare(
                    idea,
                    sizes,
                    backend=backend,
                    duration_s=self.duration.value,
                    time_scale=time_scale,
                )
                display(self.result)
                for figure in self.result.figures.values():
                    figure.show()
        except InvalidRequestError as exc:  # next to the field it is about
            _show_error(self._label_for(exc.field), str(exc))
        except StoryGenError as exc:
            _show_error(self.run_error, str(exc))
        finally:
            self.run_button.disabled = False
        return self.result


def panel(
    idea: str = "A lighthouse keeper finds a map to a drowned city",
    duration_s: float = 600,
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    time_scale: float = 0.0125,
    backend: BackendConfig | None = None,
) -> Panel:
    """The Compare page in a cell; display it (it is the cell's last line) and press Run."""
    return Panel(idea, duration_s, batch_sizes, time_scale, backend)
