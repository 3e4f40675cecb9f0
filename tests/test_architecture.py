"""The shape of the package: public names, no import cycles, the layers, a quick start.

The layers contract itself is import-linter's (pyproject.toml, run by .ci/run); these tests
pin what it does not: cycles inside a layer, and the names ``import storygen`` offers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

import storygen

ROOT = Path(__file__).resolve().parents[1]

# Every name `import storygen` offered before the layers (issue 18): none may go; and the
# continuity check (issue 19).
PUBLIC = {
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
    "batches",
    "check",
    "compare",
    "generate",
    "resume",
    "run_async",
    "scene_count",
    "scene_durations",
    "sweep",
    "sweep_figure",
    # scenes changed by a person, versions, any format from a run (issue 21)
    "Version",
    "edit",
    "export_run",
    "history",
    "regenerate",
    "undo",
}


def test_storygen_keeps_every_public_name() -> None:
    assert set(storygen.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(storygen, name) is not None, name
    # a module users reached as `from storygen import export`
    assert callable(storygen.export.to_json)  # type: ignore[attr-defined]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), biggest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node)):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(groups, key=len, reverse=True)


def test_no_module_imports_itself_back_even_inside_a_function() -> None:
    # grimp reads every import statement: at module level, in functions, under TYPE_CHECKING.
    graph = grimp.build_graph("storygen", cache_dir=None)
    for package in ("storygen",):  # the root re-exports the API; nothing inside imports it
        for importer in sorted(graph.find_modules_that_directly_import(package)):
            raise AssertionError(f"{importer} imports the package root {package}")
    assert _cycles(graph) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


def test_the_layers_contract_holds() -> None:
    # The same check CI runs; here so that a local `pytest` catches an upward import too.
    done = subprocess.run(
        ["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:]
