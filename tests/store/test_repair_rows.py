"""Repair rows in the checkpoint: the last line for an index wins; resume tells the scenes as
first written from the repairs already made."""

from __future__ import annotations

from pathlib import Path

from storygen import RunDir, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.core.models import Scene, SceneTiming
from storygen.engine import Prior

REQUEST = ScriptRequest(idea="A fox opens a bakery", duration_s=24, strategy="sequential")


def _run(root: Path) -> RunDir:
    store = RunStore(root)
    generate(REQUEST, SimulatedBackend(time_scale=0), store=store)
    (run,) = list(store)
    return run


def _repair_row(scene: Scene, timing: SceneTiming, title: str) -> tuple[Scene, SceneTiming]:
    repaired = scene.model_copy(update={"title": title})
    row = timing.model_copy(update={"repair": True, "group": 4, "start_s": 9.0, "end_s": 9.5})
    return repaired, row


def test_a_repair_row_replaces_the_scene_first_written(tmp_path: Path) -> None:
    run = _run(tmp_path)
    first = run.load_checkpoint()
    run.append(*_repair_row(*first[2], "Again"))
    run.close()
    kept = run.load_checkpoint()
    assert sorted(kept) == [1, 2, 3]
    assert kept[2][0].title == "Again" and kept[2][1].repair
    assert kept[1] == first[1] and kept[3] == first[3]
    lines = run.load_lines()
    assert [(s.index, t.repair) for s, t in lines] == [
        (1, False),
        (2, False),
        (3, False),
        (2, True),
    ]


def test_prior_keeps_the_scenes_as_first_written_and_the_repairs_apart(tmp_path: Path) -> None:
    run = _run(tmp_path)
    first = run.load_checkpoint()
    rows = [_repair_row(*first[3], "Third again"), _repair_row(*first[1], "First again")]
    for row in rows:
        run.append(*row)
    run.close()
    prior = Prior.from_run(run)
    assert prior.scenes == first
    assert prior.repairs == rows  # in the order written


def test_a_repairing_run_counts_its_scenes_from_the_checkpoint(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.set_status("repairing", scenes_done=0)  # what a killed pass leaves behind
    assert run.info().status == "repairing" and run.info().scenes_done == 3
