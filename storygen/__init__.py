"""storygen: write the scripts of long AI videos with an LLM, scenes in parallel."""

from storygen.backends.base import Backend, Generation, SceneContext, SceneTask
from storygen.backends.simulated import SimulatedBackend
from storygen.engine import Prior, run_async
from storygen.errors import (
    BackendError,
    InvalidRequestError,
    MalformedOutputError,
    PermanentError,
    RateLimitedError,
    RunFailedError,
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

__all__ = [
    "Backend",
    "BackendError",
    "Character",
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
    "StoryGenError",
    "TransientError",
    "batches",
    "generate",
    "resume",
    "run_async",
    "scene_count",
    "scene_durations",
]
