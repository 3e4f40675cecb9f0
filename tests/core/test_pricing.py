"""A price file named by STORYGEN_PRICES is the table every cost in storygen uses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storygen import InvalidRequestError, ScriptRequest, SimulatedBackend, generate
from storygen.analysis.frames import display_summary, summary_frame
from storygen.cli.main import main
from storygen.core.pricing import estimate_cost, price_of

FAST = 0.002


@pytest.fixture
def price_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real file, named through the environment as a user would."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"my-local-model": [3.0, 7.0], "gpt-4o-mini": [1.0, 2.0]}))
    monkeypatch.setenv("STORYGEN_PRICES", str(path))
    return path


def test_the_price_file_in_the_environment_sets_the_cost(price_file: Path) -> None:
    # 1M prompt tokens at $3 plus 2M completion tokens at $7
    assert estimate_cost("my-local-model", 1_000_000, 2_000_000) == pytest.approx(17.0)
    assert price_of("my-local-model-q4") == (3.0, 7.0)


def test_the_price_file_overrides_a_built_in_price(price_file: Path) -> None:
    # built in, gpt-4o-mini is $0.15 / $0.60; the file says $1 / $2
    assert estimate_cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(3.0)


def test_models_in_neither_table_still_have_no_price(price_file: Path) -> None:
    assert estimate_cost("mystery-7b", 1000, 1000) is None
    # the built-in rows the file does not mention are kept
    assert estimate_cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)


def test_an_edited_price_file_is_read_again(price_file: Path) -> None:
    assert estimate_cost("my-local-model", 1_000_000, 0) == pytest.approx(3.0)
    price_file.write_text(json.dumps({"my-local-model": [5.0, 5.0, 0.0]}))
    stat = price_file.stat()  # an edit within the clock's resolution still counts
    os.utime(price_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert estimate_cost("my-local-model", 1_000_000, 0) == pytest.approx(5.0)


def test_without_the_variable_the_built_in_table_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORYGEN_PRICES", raising=False)
    assert estimate_cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost("my-local-model", 1000, 1000) is None


@pytest.mark.parametrize("content", ["not json", '["a", "list"]', '{"m": [1.0]}', '{"m": "x"}'])
def test_a_bad_price_file_is_an_error_naming_the_file(price_file: Path, content: str) -> None:
    price_file.write_text(content)
    with pytest.raises(InvalidRequestError, match="price file") as info:
        estimate_cost("gpt-4o-mini", 10, 10)
    assert str(price_file) in str(info.value) and info.value.field == "prices"


def test_a_missing_price_file_is_an_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.json"
    monkeypatch.setenv("STORYGEN_PRICES", str(missing))
    with pytest.raises(InvalidRequestError, match=str(missing)):
        estimate_cost("gpt-4o-mini", 10, 10)


def test_an_explicit_table_beats_the_environment(price_file: Path) -> None:
    assert estimate_cost("gpt-4o-mini", 1_000_000, 0, {"gpt-4o-mini": (9.0, 9.0)}) == 9.0


def test_the_compare_summary_costs_runs_with_the_price_file(price_file: Path) -> None:
    """The Compare page's Cost column comes from summary_frame."""
    price_file.write_text(json.dumps({"storygen-sim": [1000.0, 2000.0]}))
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=24, strategy="sequential")
    script = generate(request, SimulatedBackend(time_scale=FAST))
    meta = script.meta
    assert meta.model.startswith("storygen-sim") and meta.prompt_tokens > 0
    expected = (meta.prompt_tokens * 1000 + meta.completion_tokens * 2000) / 1e6
    summary = summary_frame([script], baseline="estimated")
    assert summary["cost_usd"].iloc[0] == pytest.approx(expected)
    assert display_summary(summary)["Cost (USD)"].iloc[0] == f"${expected:.4f}"


def test_the_cli_cost_line_uses_the_price_file(
    price_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    price_file.write_text(json.dumps({"storygen-sim": [1000.0, 2000.0]}))
    code = main(
        ["generate", "--idea", "A fox opens a bakery", "--duration", "24",
         "--time-scale", str(FAST), "--runs-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    (run,) = (tmp_path / "runs").iterdir()
    meta = json.loads((run / "script.json").read_text(encoding="utf-8"))["meta"]
    prompt = meta["outline_prompt_tokens"] + sum(t["prompt_tokens"] for t in meta["timeline"])
    completion = meta["outline_completion_tokens"] + sum(
        t["completion_tokens"] for t in meta["timeline"]
    )
    expected = (prompt * 1000 + completion * 2000) / 1e6
    assert expected > 0
    assert (
        f"tokens: {prompt} prompt, {completion} completion; estimated cost ${expected:.4f}" in out
    )


def test_the_cli_refuses_a_bad_price_file_before_any_run(
    price_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    price_file.write_text("{not json")
    code = main(
        ["generate", "--idea", "A fox opens a bakery", "--duration", "24",
         "--time-scale", str(FAST), "--runs-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert str(price_file) in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()  # nothing was written, nothing was paid for
