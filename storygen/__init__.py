"""storygen: write the scripts of long AI videos with an LLM, scenes in parallel."""

from storygen.backends.base import Backend, Generation, SceneContext, SceneTask
from storygen.backends.simulated import SimulatedBackend
from storygen.config import BackendConfig
from storygen.engine import Prior, run_async
from storygen.errors import (
    BackendError,
    InvalidRequestError,
    MalformedOutputError,
    PermanentError,
    RateLimitedError,
    RunFailedError,
    StoreError,
    StoryGenError,
    TransientError,
)
from storygen.events import ProgressTracker, Snapshot
from storygen.models import (
    Character,
    Dialogue,
    Outline,
    RunMeta,
    Scene,
    SceneDraft,
    SceneTiming,
    Script,
    ScriptRequest,
)
from storygen.planning import batches, scene_count, scene_durations
from storygen.retry import RetryPolicy
from storygen.runner import generate, resume
from storygen.store import RunDir, RunStore

# pandas and plotly load only when the notebook helpers are first used: the CLI and the
# engine stay quick to import.
_LAZY = {name: "storygen.comparison" for name in ("Comparison", "compare", "sweep", "sweep_figure")}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'storygen' has no attribute {name!r}")


__all__ = [
    "Backend",
    "BackendConfig",
    "BackendError",
    "Character",
    "Comparison",
    "Dialogue",
    "Generation",
    "InvalidRequestError",
    "MalformedOutputError",
    "Outline",
    "PermanentError",
    "Prior",
    "ProgressTracker",
    "RateLimitedError",
    "RetryPolicy",
    "RunDir",
    "RunFailedError",
    "RunMeta",
    "RunStore",
    "Scene",
    "SceneContext",
    "SceneDraft",
    "SceneTask",
    "SceneTiming",
    "Script",
    "ScriptRequest",
    "SimulatedBackend",
    "Snapshot",
    "StoreError",
    "StoryGenError",
    "TransientError",
    "batches",
    "compare",
    "generate",
    "resume",
    "run_async",
    "scene_count",
    "scene_durations",
    "sweep",
    "sweep_figure",
]
