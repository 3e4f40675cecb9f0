"""generate's --repair/--no-repair and --repair-budget, and the summary line of the pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from storygen import ScriptRequest
from storygen.cli.flags import Usage, repair_choice
from storygen.cli.main import _parser, main

BASE = ["generate", "--idea", "A lighthouse keeper finds a map", "--duration", "160"]
DEFAULTS = ScriptRequest.model_fields


@pytest.mark.parametrize(
    ("flags", "repair", "share"),
    [
        ([], DEFAULTS["repair"].default, DEFAULTS["repair_budget"].default),
        (["--repair"], True, 0.1),
        (["--no-repair"], False, 0.1),
        (["--repair", "--repair-budget", "0.25"], True, 0.25),
        (["--repair", "--repair-budget", "1"], True, 1.0),
    ],
)
def test_the_flags_set_the_request_fields_only_when_given(
    flags: list[str], repair: bool, share: float
) -> None:
    args = _parser().parse_args([*BASE, *flags])
    request = ScriptRequest.build(idea="A", duration_s=16, **repair_choice(args))
    assert (request.repair, request.repair_budget) == (repair, share)


@pytest.mark.parametrize("share", ["0", "-0.1", "1.5", "nan", "ten", ""])
def test_a_bad_budget_exits_2_with_one_line(
    share: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*BASE, "--repair", "--repair-budget", share, "--runs-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --repair-budget takes a share of the scenes above 0 and at most 1, e.g. 0.1 "
        f"(got {share!r})\n"
    )
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # no run was created


def test_a_budget_without_the_repair_is_refused() -> None:
    args = _parser().parse_args([*BASE, "--no-repair", "--repair-budget", "0.2"])
    with pytest.raises(Usage, match=r"^--repair-budget applies only with --repair$"):
        repair_choice(args)


def test_a_repaired_run_says_what_the_pass_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    argv = [*BASE, "--seed", "1", "--repair", "--repair-budget", "0.2"]
    argv += ["--time-scale", "0.001", "--no-progress", "--runs-dir", str(runs)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (run,) = runs.iterdir()
    script = json.loads((run / "script.json").read_text(encoding="utf-8"))
    meta = script["meta"]
    assert json.loads((run / "request.json").read_text(encoding="utf-8"))["repair"] is True
    line = next(x for x in out.splitlines() if x.startswith("repaired "))
    match = re.fullmatch(
        r"repaired (\d+) of (\d+) flagged scenes \((\d+) extra calls?\); "
        r"continuity before: (.+), after: (.+)",
        line,
    )
    assert match is not None, line
    assert int(match[1]) == meta["repaired_scenes"] and int(match[3]) == meta["repair_calls"]
    assert int(match[2]) == meta["flagged_scenes"] and 1 <= meta["repair_calls"] <= 4
    before = sum(meta["findings_before"].values())
    assert match[4].startswith(f"{before} finding")
    after = len(script["findings"])
    assert match[5] == "no findings" if not after else match[5].startswith(f"{after} finding")
    # the continuity line of the finished script comes first
    assert out.index("continuity: ") < out.index(line)


def test_a_run_without_the_pass_prints_no_repair_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*BASE, "--time-scale", "0.001", "--no-progress", "--runs-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "repaired " not in capsys.readouterr().out


def test_resume_of_a_killed_pass_says_what_the_pass_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from conftest import FAST, fast_policy

    from storygen import Generation, RunStore, SceneTask, SimulatedBackend, generate
    from storygen.core.models import SceneDraft

    class Killed(SimulatedBackend):
        async def write_scene(
            self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
        ) -> Generation[SceneDraft]:
            if feedback is not None:  # the first repair call: Ctrl-C
                raise asyncio.CancelledError
            return await super().write_scene(task, attempt=attempt, feedback=feedback)

    request = ScriptRequest(idea="A lighthouse keeper finds a map", duration_s=160, seed=1)
    request = request.model_copy(update={"repair": True})
    backend = Killed(time_scale=FAST)
    run_dir = RunStore(tmp_path).create(request, backend.settings())
    with pytest.raises(asyncio.CancelledError):
        generate(request, backend, policy=fast_policy(), run_dir=run_dir)
    assert main(["resume", str(run_dir.path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "wrote 0 missing scenes" in out
    meta = json.loads((run_dir.path / "script.json").read_text(encoding="utf-8"))["meta"]
    assert meta["repair_calls"] >= 1
    said = (
        f"repaired {meta['repaired_scenes']} of {meta['flagged_scenes']} flagged scenes "
        f"({meta['repair_calls']} extra call"
    )
    assert said in out, out
