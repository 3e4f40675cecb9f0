"""What a run leaves on disk, and when: a reported scene is already in the checkpoint, and
timeline.json and script.json appear whole, once, at the end.

Subscribers only record what they see; the assertions come after the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FAST

from storygen import RunDir, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.core.export import from_json
from storygen.core.models import SceneTiming
from storygen.engine.events import Event, RunFinished, RunStarted, SceneFinished


def _request(strategy: str = "batched") -> ScriptRequest:
    return ScriptRequest(
        idea="A clockmaker repairs time itself",
        duration_s=80,  # 10 scenes
        strategy=strategy,  # type: ignore[arg-type]
        concurrency=3,
    )


class RunFolderWatcher:
    """A subscriber that looks at the run's folder at each event, the way a second process
    (or a restarted one) would: by reading the files, not the engine's memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path: Path | None = None
        # (scene reported finished, scenes the checkpoint held at that moment)
        self.checkpoint_at_finish: list[tuple[int, dict[int, str]]] = []
        # (event name, timeline.json exists, script.json exists)
        self.final_files: list[tuple[str, bool, bool]] = []
        self.at_run_finished: list[tuple[str, str]] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.path = self.root / event.run_id
        if self.path is None:  # nothing to look at before RunStarted
            return
        timeline, script = self.path / "timeline.json", self.path / "script.json"
        self.final_files.append((type(event).__name__, timeline.exists(), script.exists()))
        if isinstance(event, SceneFinished):
            # a fresh reader, as after a kill: only what reached the OS counts
            on_disk = RunDir(self.path).load_checkpoint()
            self.checkpoint_at_finish.append(
                (event.scene.index, {k: s.title for k, (s, _) in on_disk.items()})
            )
        if isinstance(event, RunFinished) and timeline.exists() and script.exists():
            self.at_run_finished.append(
                (timeline.read_text(encoding="utf-8"), script.read_text(encoding="utf-8"))
            )


@pytest.mark.parametrize("strategy", ["sequential", "batched", "windowed", "outline"])
def test_a_scene_is_in_the_checkpoint_when_it_is_reported_finished(
    tmp_path: Path, strategy: str
) -> None:
    """A process killed right after a SceneFinished event loses nothing it reported."""
    watcher = RunFolderWatcher(tmp_path)
    script = generate(
        _request(strategy),
        SimulatedBackend(time_scale=FAST),
        store=RunStore(tmp_path),
        subscribers=[watcher],
    )
    reported = [k for k, _ in watcher.checkpoint_at_finish]
    assert sorted(reported) == list(range(1, 11))
    titles = {s.index: s.title for s in script.scenes}
    seen_before: set[int] = set()
    for k, on_disk in watcher.checkpoint_at_finish:
        assert k in on_disk, f"scene {k} was reported finished before it was on disk"
        assert on_disk[k] == titles[k]
        # and every scene reported earlier is still there
        assert seen_before <= on_disk.keys()
        seen_before.add(k)


def test_the_checkpoint_holds_each_scene_once_with_its_timing(tmp_path: Path) -> None:
    script = generate(_request(), SimulatedBackend(time_scale=FAST), store=RunStore(tmp_path))
    (run,) = tmp_path.iterdir()
    lines = (run / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(script.scenes)
    by_index = {json.loads(line)["scene"]["index"]: json.loads(line) for line in lines}
    for scene, timing in zip(script.scenes, script.meta.timeline, strict=True):
        assert by_index[scene.index]["scene"] == scene.model_dump()
        assert SceneTiming.model_validate(by_index[scene.index]["timing"]) == timing


@pytest.mark.parametrize("strategy", ["batched", "outline"])
def test_timeline_and_script_appear_only_when_the_run_ends(tmp_path: Path, strategy: str) -> None:
    watcher = RunFolderWatcher(tmp_path)
    script = generate(
        _request(strategy),
        SimulatedBackend(time_scale=FAST),
        store=RunStore(tmp_path),
        subscribers=[watcher],
    )
    before_end = [seen for seen in watcher.final_files if seen[0] != "RunFinished"]
    assert {name for name, _, _ in before_end} >= {"RunStarted", "SceneStarted", "SceneFinished"}
    early = [seen for seen in before_end if seen[1] or seen[2]]
    assert early == [], "timeline.json or script.json existed while scenes were being written"
    # a reader told the run finished finds both files, complete
    assert watcher.final_files[-1] == ("RunFinished", True, True)
    assert [seen for seen in watcher.final_files if seen[0] == "RunFinished"] == [
        ("RunFinished", True, True)
    ]
    ((timeline_text, script_text),) = watcher.at_run_finished
    assert from_json(script_text) == script
    timeline = [SceneTiming.model_validate(t) for t in json.loads(timeline_text)]
    assert timeline == script.meta.timeline and len(timeline) == 10
    # and they are still the same after the run
    assert watcher.path is not None
    assert (watcher.path / "script.json").read_text(encoding="utf-8") == script_text
    assert (watcher.path / "timeline.json").read_text(encoding="utf-8") == timeline_text
    assert RunDir(watcher.path).load_script() == script


def test_timeline_and_script_are_written_by_atomic_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temp file then os.replace, in the same folder: a reader never sees half a file."""
    renamed: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renamed.append((Path(src), Path(dst)))
        real_replace(src, dst)  # observes, then does the real thing

    monkeypatch.setattr(os, "replace", spy)
    watcher = RunFolderWatcher(tmp_path)
    script = generate(
        _request(),
        SimulatedBackend(time_scale=FAST),
        store=RunStore(tmp_path),
        subscribers=[watcher],
    )
    assert watcher.path is not None
    for name in ("timeline.json", "script.json"):
        target = watcher.path / name
        moves = [src for src, dst in renamed if dst == target]
        assert len(moves) == 1, f"{name} was not written by one rename ({renamed})"
        (src,) = moves
        assert src.parent == target.parent and src.name != name
        assert not src.exists()  # the temp file became the real one
    assert RunDir(watcher.path).load_script() == script
    leftovers = [p.name for p in watcher.path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
