"""LLM backends behind one small Protocol."""

from storygen.core.tasks import Backend, Generation, SceneContext, SceneTask

__all__ = ["Backend", "Generation", "SceneContext", "SceneTask"]
