"""A config to a backend: the one place that knows which class each ``kind`` is.

The OpenAI-compatible backend is imported only when a config asks for it, so that a
simulated run never loads the openai SDK (about half of the CLI's start-up).
"""

from __future__ import annotations

from collections.abc import Iterable

from storygen.backends.config import BackendConfig
from storygen.backends.simulated import SIM_MODEL, SimulatedBackend
from storygen.core.tasks import Backend


def build_backend(config: BackendConfig, fail_scenes: Iterable[int] = ()) -> Backend:
    """``fail_scenes``: simulated scenes that fail for good, a one-shot demo of failure
    and resume that is never saved with the run."""
    if config.kind == "simulated":
        return SimulatedBackend(
            time_scale=config.time_scale,
            error_rate=config.error_rate,
            rpm=config.sim_rpm,
            median_s=config.median_s,
            sigma=config.sigma,
            hang_rate=config.hang_rate,
            hang_factor=config.hang_factor,
            capacity=config.capacity,
            model=config.model or SIM_MODEL,
            fail_scenes=fail_scenes,
        )
    from storygen.backends.openai_compat import OpenAIBackend

    return OpenAIBackend(config)
