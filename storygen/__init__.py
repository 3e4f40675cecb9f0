"""storygen: write the scripts of long AI videos with an LLM, scenes in parallel."""

from storygen.backends.config import BackendConfig
from storygen.backends.simulated import SimulatedBackend
from storygen.core.continuity import Finding, check
from storygen.core.errors import (
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
from storygen.core.models import (
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
from storygen.core.planning import batches, scene_count, scene_durations
from storygen.core.tasks import Backend, Generation, SceneContext, SceneTask
from storygen.engine import Prior, run_async
from storygen.engine.events import ProgressTracker, Snapshot
from storygen.policies.retry import RetryPolicy
from storygen.runner.edits import edit, export_run, regenerate, undo
from storygen.runner.runs import generate, resume
from storygen.runner.versions import Version, history
from storygen.store import RunDir, RunStore

# pandas and plotly load only when the notebook helpers are first used: the CLI and the
# engine stay quick to import.
_LAZY = {name: "storygen.comparison" for name in ("Comparison", "compare", "sweep", "sweep_figure")}


# Modules that were top-level before the layers (``from storygen import export``).
_MODULES = {"export": "storygen.core.export"}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module 'storygen' has no attribute {name!r}")


__all__ = [
    "Backend",
    "BackendConfig",
    "BackendError",
    "Character",
    "Comparison",
    "Dialogue",
    "Finding",
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
    "Version",
    "batches",
    "check",
    "compare",
    "edit",
    "export_run",
    "generate",
    "history",
    "regenerate",
    "resume",
    "run_async",
    "scene_count",
    "scene_durations",
    "sweep",
    "sweep_figure",
    "undo",
]
