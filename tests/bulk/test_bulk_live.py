"""Many scripts under one budget: the cap holds across scripts, failures stay local,
and a killed bulk run resumes without losing or repaying a scene."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAST, Serve, bulk_folder, fast_policy

from storygen import Script, SimulatedBackend
from storygen.bulk.folder import SUMMARY_COLUMNS, BulkDir
from storygen.bulk.live import BulkProgress, run_bulk
from storygen.core.export import from_json
from storygen.store import RunDir

ROOT = Path(__file__).resolve().parents[2]


def _calls(bulk: BulkDir) -> list[tuple[float, float]]:
    """Every answered call of every script on one clock, from the recorded timelines."""
    spans = []
    for entry in bulk.entries:
        script = bulk.run(entry).finished_script()
        assert script is not None and script.meta.started_at is not None
        zero = script.meta.started_at
        for t in script.meta.timeline:
            assert t.call_start_s is not None
            spans.append((zero + t.call_start_s, zero + t.end_s))
    return spans


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, step in edges:  # an end before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


def test_the_budget_caps_calls_in_flight_across_every_script(tmp_path: Path) -> None:
    text = "idea,duration_s,strategy,concurrency\n" + "".join(
        f"Idea {i},80,windowed,10\n" for i in range(6)
    )
    bulk = bulk_folder(tmp_path, text)
    progress = BulkProgress()
    result = run_bulk(
        bulk,
        SimulatedBackend(time_scale=FAST),
        max_in_flight=4,
        policy=fast_policy(),
        progress=progress,
    )
    assert [line.status for line in result.lines] == ["finished"] * 6
    assert progress.budget is not None and progress.budget.peak == 4
    # six windows of 10 would put up to 60 calls in flight; the timelines show at most 4
    assert _most_at_once(_calls(bulk)) <= 4
    assert (progress.scenes_done, progress.scripts_done) == (60, 6)


def test_without_a_tight_budget_scripts_really_run_side_by_side(tmp_path: Path) -> None:
    """The other side of the cap: it is the budget, not the runner, that holds calls back."""
    text = "idea,duration_s,strategy,concurrency\n" + "".join(
        f"Idea {i},80,windowed,10\n" for i in range(6)
    )
    bulk = bulk_folder(tmp_path, text)
    run_bulk(bulk, SimulatedBackend(time_scale=FAST), max_in_flight=60, policy=fast_policy())
    assert _most_at_once(_calls(bulk)) > 10  # more than one script's window at once


def test_a_failing_script_stops_alone_and_resume_finishes_it(tmp_path: Path) -> None:
    bulk = bulk_folder(tmp_path, "idea,duration_s\nGood,40\nBroken,16\nAlso good,40\n")
    result = run_bulk(
        bulk,
        SimulatedBackend(time_scale=FAST, fail_scenes=[3]),
        max_in_flight=8,
        policy=fast_policy(),
    )
    status = {line.row: line.status for line in result.lines}
    # rows 2 and 4 have a scene 3 and fail; row 3 (2 scenes) finishes regardless
    assert status == {2: "failed", 3: "finished", 4: "failed"}
    failed = {line.row: line for line in result.failed}
    assert "scene 3 failed" in failed[2].error
    assert failed[2].scenes == 4  # everything but scene 3 was written and kept
    assert bulk.export_path(3).exists() and not bulk.export_path(2).exists()
    with open(bulk.path / "summary.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == SUMMARY_COLUMNS
    assert [r["status"] for r in table] == ["failed", "finished", "failed"]

    again = run_bulk(bulk, SimulatedBackend(time_scale=FAST), max_in_flight=8)
    assert {line.status for line in again.lines} == {"finished"}
    script = from_json(bulk.export_path(2).read_text(encoding="utf-8"))
    assert [s.index for s in script.scenes] == [1, 2, 3, 4, 5]
    # the four scenes written before were not paid for again: one new line, for scene 3
    lines = (bulk.run(bulk.entries[0]).path / "checkpoint.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["scene"]["index"] for line in lines) == [1, 2, 3, 4, 5]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "storygen", *args]


def test_a_killed_bulk_run_resumes_without_losing_or_repaying_a_scene(tmp_path: Path) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(
        "idea,duration_s\n" + "".join(f"Idea number {i},160\n" for i in range(8)),
        encoding="utf-8",
    )
    out, runs = tmp_path / "out", tmp_path / "runs"
    proc = subprocess.Popen(
        _cli(
            "bulk",
            str(ideas),
            "--out-dir",
            str(out),
            "--runs-dir",
            str(runs),
            "--strategy",
            "windowed",
            "--batch-size",
            "3",
            "--max-in-flight",
            "6",
            "--time-scale",
            "0.01",
            "--no-progress",
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def written() -> dict[Path, list[str]]:
        return {
            p.parent: p.read_text(encoding="utf-8").splitlines()
            for p in runs.glob("*/checkpoint.jsonl")
        }

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for a condition, not for a time
        if sum(len(lines) for lines in written().values()) >= 40:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = written()
    assert 40 <= sum(len(v) for v in before.values()) < 160

    done = subprocess.run(
        _cli("bulk", "resume", str(out), "--no-progress"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "8 scripts finished, 0 not finished, 0 rows rejected" in done.stdout
    after = written()
    for path, lines in after.items():
        indices = [json.loads(line)["scene"]["index"] for line in lines if line.strip()]
        assert sorted(indices) == list(range(1, 21)), path  # no gap, no scene twice
        kept = [line for line in before.get(path, []) if line.endswith("}")]
        assert lines[: len(kept)] == kept  # what was on disk is untouched
    assert len(list((out / "scripts").glob("row-*.json"))) == 8


def test_the_cli_reports_rejected_rows_runs_the_rest_and_exits_2(tmp_path: Path) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text("idea,duration_s\nFine,16\nToo long,9000\n", encoding="utf-8")
    args = ["--out-dir", str(tmp_path / "out"), "--runs-dir", str(tmp_path / "runs")]
    fast = ["--time-scale", "0.002", "--no-progress"]
    done = subprocess.run(
        _cli("bulk", str(ideas), *args, *fast), cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "error: row 3: duration_s" in done.stderr and "Traceback" not in done.stderr
    assert "1 script finished, 0 not finished, 1 row rejected" in done.stdout
    assert (tmp_path / "out" / "scripts" / "row-0002.json").exists()
    again = subprocess.run(
        _cli("bulk", str(ideas), *args, *fast), cwd=ROOT, capture_output=True, text=True
    )
    assert again.returncode == 2 and "already holds a bulk run" in again.stderr
    status = subprocess.run(
        _cli("bulk", "status", str(tmp_path / "out")), cwd=ROOT, capture_output=True, text=True
    )
    assert status.returncode == 0 and "1 finished, 1 rejected" in status.stdout


def test_over_http_every_script_shares_one_key_pool(tmp_path: Path, serve: Serve) -> None:
    """The scripts of a bulk run share the backend, so its key pool caps them together: the
    server never sees more than 3 calls at once on a key, though the budget allows 20."""
    from storygen.backends.config import BackendConfig
    from storygen.backends.openai_compat import OpenAIBackend

    server = serve(time_scale=0.004)
    keys = ["sk-bulk-key-one-0000", "sk-bulk-key-two-0000"]
    config = BackendConfig.build_config(
        kind="openai",
        base_url=server.url,
        model="gpt-4o-mini",
        api_keys=keys,
        per_key_concurrency=3,
    )
    text = "idea,duration_s,strategy,concurrency\n" + "".join(
        f"Idea {i},40,windowed,5\n" for i in range(5)
    )
    bulk = bulk_folder(tmp_path, text)
    result = run_bulk(bulk, OpenAIBackend(config), max_in_flight=20, policy=fast_policy())
    assert [line.status for line in result.lines] == ["finished"] * 5
    seen = server.state.max_in_flight_by_key
    assert set(seen) == set(keys) and max(seen.values()) <= 3  # per key, across scripts
    assert sum(server.state.requests_by_key.values()) == 25  # one call a scene, no retries
    summary = (bulk.path / "summary.csv").read_text(encoding="utf-8")
    assert all(key not in summary for key in keys)


def test_a_manifest_from_an_older_version_reads_and_is_saved_back_unchanged(
    tmp_path: Path,
) -> None:
    """A folder written before a setting existed: the setting takes its one default, and a
    save (as the Batch API does on every job) neither adds keys nor reorders them."""
    bulk = bulk_folder(tmp_path, "idea,duration_s\nA fox,16\n")
    older = json.loads((bulk.path / "manifest.json").read_text(encoding="utf-8"))
    for key in ("format", "max_in_flight", "attempts", "price_as", "batches"):
        older.pop(key, None)
    for row in older["rows"]:
        del row["scenes"]  # rows of the first bulk version had no scene count
    older["kept"] = {"by": "a later version"}  # unknown keys are carried along
    text = json.dumps(older, indent=2)
    (bulk.path / "manifest.json").write_text(text, encoding="utf-8")

    again = BulkDir.open(bulk.path)
    manifest = again.manifest
    assert (manifest.format, manifest.max_in_flight, manifest.attempts) == ("json", 50, 4)
    assert (manifest.price_as, manifest.via, manifest.batches) == ("gpt-4o-mini", "live", [])
    assert [(e.row, e.scenes) for e in again.entries] == [(2, 0)]
    again.save()
    assert (bulk.path / "manifest.json").read_text(encoding="utf-8") == text


def test_the_summary_counts_each_finished_scripts_continuity_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """summary.csv's last column: a finished script's findings; blank until it is finished.
    A page polls the summary, so a finished script is read once, not on every poll."""
    text = "idea,duration_s,strategy,concurrency\nA heist,80,batched,10\nA fox,40,batched,5\n"
    bulk = bulk_folder(tmp_path, text)
    failed = run_bulk(bulk, SimulatedBackend(time_scale=FAST, fail_scenes=[5]), max_in_flight=8)
    assert [(line.status, line.findings) for line in failed.lines] == [("failed", None)] * 2
    run_bulk(bulk, SimulatedBackend(time_scale=FAST), max_in_flight=8)  # resumes both
    with open(bulk.path / "summary.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    # new columns go last: findings, then a simulated run's would-be cost
    assert list(table[0])[-2:] == ["findings", "would_cost_usd"] == list(SUMMARY_COLUMNS[-2:])
    scripts = [bulk.run(e).finished_script() for e in bulk.entries]
    assert [int(r["findings"]) for r in table] == [len(s.findings) for s in scripts if s]

    reads: list[str] = []
    real = RunDir.finished_script

    def counted(run: RunDir) -> Script | None:
        reads.append(run.run_id)
        return real(run)

    monkeypatch.setattr(RunDir, "finished_script", counted)
    again = BulkDir.open(bulk.path)
    for _ in range(3):
        again.summary()
    assert reads == []  # a finished run's status carries its findings count
    # a count the store wrote into the status is taken as it is
    bulk.run(bulk.entries[0]).set_status("finished", findings=7)
    assert [line.findings for line in BulkDir.open(bulk.path).summary()] == [
        7,
        len(scripts[1].findings) if scripts[1] else -1,
    ]
