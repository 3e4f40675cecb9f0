"""`python -m storygen check PATH`: a finished run, an unfinished one or an exported script;
one line a finding and the summary; --json; exit 0 when it ran, 1 with --strict and
findings, 2 in one line when PATH is not a script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storygen import (
    Character,
    Dialogue,
    RunMeta,
    RunStore,
    Scene,
    SceneTiming,
    Script,
    ScriptRequest,
)
from storygen.cli.main import main
from storygen.core import export
from storygen.core.models import Bible

ROOT = Path(__file__).resolve().parents[2]
BIBLE = Bible(
    characters=[Character(name="Mara", role="keeper", visual_identity="a yellow raincoat")]
)
REQUEST = ScriptRequest(idea="A keeper finds a map", duration_s=24, strategy="sequential")
SUMMARIES = [
    "Mara finds a brass map behind a loose brick in the lighthouse wall.",
    "A storm cuts the island off while Mara studies the map by lamplight.",
    "At low tide Mara follows the map to a stair that leads under the sea.",
]


def scene(index: int, name: str = "Mara", narration: str = "") -> Scene:
    return Scene(
        index=index,
        duration_s=8,
        title=f"Scene {index}",
        visual_prompt="A lighthouse at night. Mara in a yellow raincoat.",
        narration=narration or SUMMARIES[index - 1],
        characters=[name],
        location="the lighthouse",
        dialogues=[Dialogue(speaker=name, line="Look.")],
        camera="wide shot",
        summary=SUMMARIES[index - 1],
    )


def timing(index: int) -> SceneTiming:
    zero: dict[str, Any] = dict.fromkeys(["start_s", "end_s", "service_s"], 0.0)
    counts = dict.fromkeys(["context_lag", "context_size", "prompt_tokens"], 0)
    return SceneTiming(
        index=index, group=1, attempts=1, had_outline=False, completion_tokens=0, **zero, **counts
    )


def script(*scenes: Scene) -> Script:
    meta = RunMeta(backend="test", model="test", strategy="sequential", concurrency=1)
    return Script(title="Map", request=REQUEST, bible=BIBLE, scenes=list(scenes), meta=meta)


def planted() -> Script:
    """A variant name (scene 2) and narration far too long (scene 3)."""
    return script(scene(1), scene(2, name="Marah"), scene(3, narration="wave " * 40))


def exported(tmp_path: Path, of: Script) -> Path:
    path = tmp_path / "script.json"
    path.write_text(export.to_json(of), encoding="utf-8")
    return path


def test_an_exported_script_prints_a_line_a_finding_and_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(exported(tmp_path, planted()))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("scene 2: name_variant: Marah is close to Mara (the bible)")
    assert lines[0].endswith("[characters: Marah]")
    assert lines[1].startswith("scene 3: narration_too_long: narration takes 16.0 s")
    assert lines[2] == "continuity: 2 findings (1 name_variant, 1 narration_too_long)"


def test_json_prints_the_findings_and_every_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(exported(tmp_path, planted())), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(f["scene"], f["kind"]) for f in data["findings"]] == [
        (2, "name_variant"),
        (3, "narration_too_long"),
    ]
    assert set(data["findings"][0]) == {"scene", "kind", "detail", "evidence"}
    assert data["counts"] == {
        "unknown_character": 0,
        "name_variant": 1,
        "look_missing": 0,
        "narration_too_long": 1,
        "repetition": 0,
    }


def test_strict_exits_1_with_findings_and_0_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(exported(tmp_path, planted())), "--strict"]) == 1
    clean = exported(tmp_path, script(scene(1), scene(2), scene(3)))
    assert main(["check", str(clean), "--strict"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "continuity: no findings"


def test_rate_is_words_per_second(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = exported(tmp_path, script(scene(1), scene(2), scene(3, narration="wave " * 20)))
    assert main(["check", str(path), "--strict"]) == 0  # 20 words: 8 s at 2.5 words/s
    assert main(["check", str(path), "--strict", "--rate", "2"]) == 1  # 10 s > 9.6 s
    assert "scene 3: narration_too_long" in capsys.readouterr().out


def test_a_finished_run_directory_is_checked_through_its_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = RunStore(tmp_path).create(REQUEST, {"backend": "test"})
    run.finish(planted())
    assert main(["check", str(run.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["name_variant"] == 1


def test_an_unfinished_run_is_checked_through_its_checkpoint_and_bible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = RunStore(tmp_path).create(REQUEST, {"backend": "test"})
    run.save_bible(BIBLE)
    for s in (scene(3, name="Tobias"), scene(1)):  # written out of order, as in parallel
        run.append(s, timing(s.index))
    run.close()
    assert main(["check", str(run.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scene 3: unknown_character: Tobias is not in the story bible")
    assert lines[-1] == "continuity: 1 finding (1 unknown_character)"


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("script.csv", "index,title\n1,x\n", "is not a storygen script"),
        ("other.json", '{"scenes": []}', "is not a storygen script (title: Field required)"),
        ("list.json", "[1, 2]", "is not a storygen script"),
        ("binary.json", b"\xff\xfe\x00\x01", "is not text"),
        ("folder", None, "holds neither script.json nor request.json"),
        ("missing.json", "", "no such file or directory"),
    ],
)
def test_what_is_not_a_script_exits_2_in_one_line(
    tmp_path: Path, name: str, content: str | bytes | None, said: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is None:
        path.mkdir()
    elif name != "missing.json":
        path.write_text(content, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "check", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and said in line
    assert line.endswith("expected a run directory or a script exported as JSON")


def test_a_broken_run_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "request.json").write_text('{"idea": ""}', encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 2
    assert "is not a readable run" in capsys.readouterr().err


def test_a_rate_of_zero_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(exported(tmp_path, planted())), "--rate", "0"]) == 2
    assert "--rate" in capsys.readouterr().err
