"""Bulk through the provider's Batch API: rounds planned from the store, answers checked
like live ones, failed lines retried and never lost, and a restarted process re-attaching
to its jobs instead of paying for them twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import Serve, bulk_folder

from storygen.backends.batch_api_client import BatchClient
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.bulk.batch_api import BatchRounds, Polling
from storygen.bulk.batch_api_plan import (
    ScriptState,
    check_batchable,
    custom_id,
    parse_custom_id,
    plan_round,
)
from storygen.bulk.folder import BulkDir
from storygen.core.errors import InvalidRequestError
from storygen.core.models import AdaptiveSettings, Outline, Scene, ScriptRequest
from storygen.core.pricing import estimate_cost

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-batch-test-0123456789"
FAST_POLL = Polling(first_s=0.02, most_s=0.1)


def _config(url: str) -> BackendConfig:
    return BackendConfig.build_config(
        kind="openai", base_url=url, model="gpt-4o-mini", api_keys=[KEY]
    )


def _bulk(tmp_path: Path, text: str, url: str) -> BulkDir:
    return bulk_folder(tmp_path, text, OpenAIBackend(_config(url)).settings(), via="batch-api")


def _rounds(bulk: BulkDir, url: str, **kw: Any) -> BatchRounds:
    config = _config(url)
    kw.setdefault("polling", FAST_POLL)
    return BatchRounds(bulk, OpenAIBackend(config), BatchClient(config), **kw)


def _stats(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url.removesuffix("/v1") + "/sim/stats") as answer:
        return dict(json.loads(answer.read()))


def _indices(bulk: BulkDir) -> list[list[int]]:
    out = []
    for entry in bulk.entries:
        path = bulk.run(entry).path / "checkpoint.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        out.append([json.loads(line)["scene"]["index"] for line in lines])
    return out


# -- planning ------------------------------------------------------------------------


def _scene(k: int) -> Scene:
    return Scene(
        index=k,
        duration_s=8,
        title=f"t{k}",
        visual_prompt="v",
        narration="n",
        location="l",
        camera="c",
        summary=f"summary of {k}",
    )


def test_outline_rounds_are_every_outline_then_every_scene_with_its_beats() -> None:
    request = ScriptRequest(idea="A", duration_s=32, strategy="outline", concurrency=4)
    other = ScriptRequest(idea="B", duration_s=16, strategy="outline", concurrency=4)
    states = [ScriptState(2, request, None, {}), ScriptState(3, other, None, {})]
    first = plan_round(states)
    assert [(c.row, c.kind) for c in first] == [(2, "outline"), (3, "outline")]
    outline = Outline(title="T", logline="L", characters=[], beats=["b1", "b2", "b3", "b4"])
    states[0].outline = outline
    second = plan_round(states)
    assert [(c.row, c.index) for c in second] == [(2, 1), (2, 2), (2, 3), (2, 4), (3, 0)]
    third_scene = second[2]
    assert "This scene's beat: b3" in third_scene.prompt
    assert "Previous scene's beat: b2" in third_scene.prompt
    assert "Next scene's beat: b4" in third_scene.prompt
    assert third_scene.custom_id == "row2-scene3" and third_scene.had_outline


def test_batched_rounds_send_one_batch_of_each_script_with_the_summaries_before_it() -> None:
    request = ScriptRequest(idea="A", duration_s=56, strategy="batched", concurrency=3)
    state = ScriptState(2, request, None, {})
    assert [c.index for c in plan_round([state])] == [1, 2, 3]
    state.scenes = {k: _scene(k) for k in (1, 2, 3)}
    second = plan_round([state])
    assert [c.index for c in second] == [4, 5, 6]
    assert all("Scene 3: summary of 3" in c.prompt for c in second)
    assert all(c.context_size == 3 for c in second)
    state.scenes.update({4: _scene(4), 6: _scene(6)})  # scene 5's line failed
    assert [c.index for c in plan_round([state])] == [5]  # its batch first, alone
    state.scenes[5] = _scene(5)
    assert [c.index for c in plan_round([state])] == [7]


@pytest.mark.parametrize("strategy", ["windowed", "sequential"])
def test_strategies_that_need_answers_first_are_refused_with_the_reason(strategy: str) -> None:
    with pytest.raises(InvalidRequestError, match="outline or batched strategy only") as err:
        check_batchable(ScriptRequest(idea="A", duration_s=16, strategy=strategy))
    assert "hours later" in str(err.value)


# -- against serve-sim's Batch API -----------------------------------------------------


IDEAS = (
    "idea,duration_s,strategy,concurrency\n"
    "A lighthouse keeper,40,outline,5\n"
    "A baker at dawn,48,batched,3\n"
    "A fox in the snow,24,outline,5\n"
)


def test_every_script_is_written_in_few_rounds_and_few_requests(
    tmp_path: Path, serve: Serve
) -> None:
    server = serve(batch_delay_s=0.05)
    bulk = _bulk(tmp_path, IDEAS, server.url)
    _rounds(bulk, server.url).run()
    assert [sorted(ks) for ks in _indices(bulk)] == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], [1, 2, 3]]
    assert all(len(ks) == len(set(ks)) for ks in _indices(bulk))  # none twice
    statuses = [bulk.run(e).status()["status"] for e in bulk.entries]
    assert statuses == ["finished"] * 3
    script = json.loads(bulk.export_path(2).read_text())
    assert script["outline"] is not None and len(script["scenes"]) == 5
    stats = _stats(server.url)
    # round 1: two outlines + the baker's first batch; round 2: every outline scene + the
    # baker's second batch: one upload and one job per round, whatever the scene count
    assert stats["batches_created"] == stats["files_uploaded"] == 2
    assert stats["batch_lines"] == (2 + 3) + (5 + 3 + 3)
    assert stats["requests"] == 0  # not one live call
    rounds = bulk.manifest.batches
    assert [r["round"] for r in rounds] == [1, 2]
    lines = {line.row: line for line in bulk.summary()}
    live = estimate_cost("gpt-4o-mini", lines[2].prompt_tokens, lines[2].completion_tokens)
    assert lines[2].cost_usd == pytest.approx(live * 0.5, rel=1e-3)  # the batch price


def test_failed_and_expired_lines_are_retried_in_the_next_round(
    tmp_path: Path, serve: Serve
) -> None:
    server = serve(batch_delay_s=0.05, batch_fail_rate=0.3, batch_expire_rate=0.2)
    bulk = _bulk(tmp_path, IDEAS, server.url)
    _rounds(bulk, server.url, attempts=10).run()
    assert [sorted(ks) for ks in _indices(bulk)] == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], [1, 2, 3]]
    rounds = bulk.manifest.batches
    assert sum(r["failed"] for r in rounds) > 0  # the faults happened...
    assert len(rounds) > 2  # ...and took extra rounds, not extra jobs per call
    retried = bulk.manifest.tries
    sent = Counter(cid for r in rounds for cid in r["calls"])
    # a call went out once more for each round its line failed in: nothing was dropped
    assert all(sent[cid] == n + 1 for cid, n in retried.items() if cid.count("scene"))


def test_a_line_that_keeps_failing_fails_its_script_with_the_reason_and_loses_nothing(
    tmp_path: Path, serve: Serve
) -> None:
    server = serve(batch_delay_s=0.02, batch_fail_rate=1.0)
    bulk = _bulk(tmp_path, "idea,duration_s,strategy,concurrency\nA,24,batched,3\n", server.url)
    _rounds(bulk, server.url, attempts=2).run()
    status = bulk.run(bulk.entries[0]).status()
    assert status["status"] == "failed"
    assert "failed in 2 Batch API rounds" in status["error"] and "500" in status["error"]
    assert len(bulk.manifest.batches) == 2  # bounded: two rounds, then it stops


class _KilledAfterCreate(BatchClient):
    """The create call gets through to the server, then the process dies before it hears."""

    def create(self, file_id: str, token: str) -> Any:
        super().create(file_id, token)
        raise KeyboardInterrupt


def test_a_job_created_just_before_a_kill_is_found_again_not_resubmitted(
    tmp_path: Path, serve: Serve
) -> None:
    server = serve(batch_delay_s=0.05)
    bulk = _bulk(tmp_path, IDEAS, server.url)
    config = _config(server.url)
    dying = BatchRounds(bulk, OpenAIBackend(config), _KilledAfterCreate(config), polling=FAST_POLL)
    with pytest.raises(KeyboardInterrupt):
        dying.run()
    (record,) = BulkDir.open(bulk.path).manifest.batches
    assert record["batch_id"] is None and record["state"] == "submitting"
    assert _stats(server.url)["batches_created"] == 1

    _rounds(BulkDir.open(bulk.path), server.url).run()
    again = BulkDir.open(bulk.path)
    assert again.manifest.batches[0]["batch_id"] is not None  # found by its token
    assert _stats(server.url)["batches_created"] == 2  # round 1 once, then round 2
    assert [sorted(ks) for ks in _indices(again)] == [
        [1, 2, 3, 4, 5],
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3],
    ]


def _batch_cli(tmp_path: Path, ideas: Path, url: str, *more: str) -> list[str]:
    """`bulk --via batch-api` against serve-sim at ``url``, into tmp_path/out and /runs."""
    return [
        *(sys.executable, "-m", "storygen", "bulk", str(ideas)),
        *("--out-dir", str(tmp_path / "out"), "--runs-dir", str(tmp_path / "runs")),
        *("--via", "batch-api", "--backend", "openai", "--base-url", url),
        *("--model", "gpt-4o-mini", *more),
    ]


def test_a_killed_cli_reattaches_to_its_jobs_on_resume(tmp_path: Path, serve: Serve) -> None:
    server = serve(batch_delay_s=1.5)
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(IDEAS, encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    common = ["--no-progress", "--poll-interval", "0.05"]
    proc = subprocess.Popen(
        _batch_cli(tmp_path, ideas, server.url, *common),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the first job is on record
        manifest = out / "manifest.json"
        if manifest.exists() and any(
            b.get("batch_id") for b in json.loads(manifest.read_text())["batches"]
        ):
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _stats(server.url)["batches_created"] == 1

    done = subprocess.run(
        [sys.executable, "-m", "storygen", "bulk", "resume", str(out), *common],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "3 scripts finished" in done.stdout
    assert _stats(server.url)["batches_created"] == 2  # round 1 was re-attached, not resent
    assert KEY not in (out / "manifest.json").read_text() + done.stdout + done.stderr
    status = subprocess.run(
        [sys.executable, "-m", "storygen", "bulk", "status", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "round 1: job batch_" in status.stdout and "round 2: job" in status.stdout


def test_llmock_speaks_the_same_protocol_and_its_prose_answers_are_retried_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third party's Batch API checks our request and file formats; its answers are
    prose, not scene JSON, so every line must come back reported and retried."""
    from llmock.routers import batch as llmock_batch
    from llmock.testing import LLMockServer

    monkeypatch.setattr(llmock_batch, "_BATCH_DELAY", 0.05)
    with LLMockServer() as mock:
        url = mock.base_url("openai")
        bulk = _bulk(tmp_path, "idea,duration_s,strategy,concurrency\nA,16,batched,2\n", url)
        _rounds(bulk, url, attempts=2).run()
        records = mock.state.journal.records(wait=5)
    status = bulk.run(bulk.entries[0]).status()
    assert status["status"] == "failed"
    assert "not usable" in status["error"] and "failed in 2 Batch API rounds" in status["error"]
    rounds = bulk.manifest.batches
    assert [(r["status"], r["ok"], r["failed"]) for r in rounds] == [("completed", 0, 2)] * 2
    assert bulk.manifest.tries == {"row2-scene1": 2, "row2-scene2": 2}
    uploads = [r for r in records if r.path.endswith("/files")]
    assert len(uploads) == 2  # one file a round, as llmock saw it


def test_fallback_live_finishes_what_the_batch_api_failed(tmp_path: Path, serve: Serve) -> None:
    server = serve(batch_delay_s=0.05, batch_fail_rate=0.5)
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(IDEAS, encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        _batch_cli(
            tmp_path,
            ideas,
            server.url,
            "--fallback",
            "live",
            "--poll-interval",
            "0.02",
            "--no-progress",
        ),
        cwd=ROOT,
        env={**os.environ, "OPENAI_API_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "through the live API (--fallback live)" in done.stdout
    assert "3 scripts finished, 0 not finished" in done.stdout
    stats = _stats(server.url)
    failed = sum(r["failed"] for r in json.loads((out / "manifest.json").read_text())["batches"])
    assert failed > 0 and stats["requests"] > 0  # what failed in batch went live
    bulk = BulkDir.open(out)
    assert [sorted(ks) for ks in _indices(bulk)] == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], [1, 2, 3]]
    assert all(len(ks) == len(set(ks)) for ks in _indices(bulk))


def test_batch_api_needs_the_openai_backend_and_says_so(tmp_path: Path) -> None:
    ideas = tmp_path / "ideas.csv"
    ideas.write_text(IDEAS, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "storygen",
            "bulk",
            str(ideas),
            "--out-dir",
            str(tmp_path / "o"),
            "--via",
            "batch-api",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "needs --backend openai" in done.stderr
    assert not (tmp_path / "o").exists()  # refused before anything was made


def test_outline_and_batched_rows_are_batchable_and_adaptive_ones_are_not() -> None:
    for strategy in ("outline", "batched"):
        check_batchable(ScriptRequest(idea="A", duration_s=16, strategy=strategy))
    adaptive = ScriptRequest(
        idea="A", duration_s=16, strategy="batched", adaptive=AdaptiveSettings()
    )
    with pytest.raises(InvalidRequestError, match="adaptive concurrency needs answers") as err:
        check_batchable(adaptive)
    assert err.value.field == "strategy" and "use --via live for this row" in str(err.value)


def test_a_row_with_a_repair_pass_is_not_sent_through_the_batch_api() -> None:
    repair = ScriptRequest(idea="A", duration_s=16, strategy="outline", repair=True)
    with pytest.raises(InvalidRequestError, match="the repair pass is not sent") as err:
        check_batchable(repair)
    assert "use --via live for this row" in str(err.value)


def test_custom_ids_name_the_row_and_the_call_and_read_back() -> None:
    assert custom_id(12, 0) == "row12-outline" and custom_id(12, 7) == "row12-scene7"
    assert parse_custom_id("row12-outline") == (12, 0)
    assert parse_custom_id("row12-scene7") == (12, 7)
    with pytest.raises(ValueError, match="not a storygen custom_id"):
        parse_custom_id("request-1")


def test_scene_calls_carry_the_plan_the_bounded_context_and_the_right_duration() -> None:
    request = ScriptRequest(
        idea="A", duration_s=60, strategy="batched", concurrency=3, context_scenes=2, seed=9
    )  # 8 scenes: seven of 8 s and a last one of 4 s
    outline = Outline(title="T", logline="L", characters=[], beats=[f"b{i}" for i in range(1, 9)])
    state = ScriptState(2, request, outline, {k: _scene(k) for k in range(1, 7)})
    (seventh, eighth) = plan_round([state])
    assert (seventh.index, eighth.index) == (7, 8)
    assert "Story: T. L" in eighth.prompt  # the outline itself, not only its beats
    assert "Scene 5: summary of 5" in eighth.prompt and "Scene 6: summary of 6" in eighth.prompt
    assert "Scene 4:" not in eighth.prompt  # context_scenes=2: the last two only
    assert (eighth.context_size, eighth.context_lag) == (2, 1)  # scene 7 is not done
    assert "a clip of 4 s" in eighth.prompt and "a clip of 8 s" in seventh.prompt
    assert seventh.seed == eighth.seed == 9
    first = plan_round([ScriptState(3, request, outline, {})])[0]
    assert "Previous scene's beat" not in first.prompt  # scene 1 has none
    second = plan_round([ScriptState(4, request, outline, {1: _scene(1)})])[0]
    assert second.index == 2 and "Previous scene's beat: b1" in second.prompt
    outline_call = plan_round(
        [ScriptState(5, request.model_copy(update={"strategy": "outline"}), None, {})]
    )[0]
    assert outline_call.kind == "outline" and outline_call.seed == 9


def test_a_scene_call_is_a_scene_and_its_clip_follows_the_requested_scene_length() -> None:
    request = ScriptRequest(
        idea="A", duration_s=25, seconds_per_scene=10, strategy="batched", concurrency=3
    )  # three scenes: 10, 10 and 5 s
    calls = plan_round([ScriptState(2, request, None, {})])
    assert [c.kind for c in calls] == ["scene"] * 3
    assert "a clip of 10 s" in calls[0].prompt and "a clip of 5 s" in calls[2].prompt
