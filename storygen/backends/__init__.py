"""LLM backends behind one small Protocol."""

from storygen.backends.base import Backend, Generation, SceneContext, SceneTask

__all__ = ["Backend", "Generation", "SceneContext", "SceneTask"]
