"""serve-sim's Batch API through the real openai SDK over real HTTP on 127.0.0.1.

A Batch API client relies on these behaviours:
- each line is answered as the live endpoint would answer it;
- the status follows the completion delay;
- no line is ever lost: each custom_id is in exactly one of the output and error files;
- cancel works, a bad input file is refused, and the key is checked;
- the counters let a client prove how few requests it sent.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from typing import Any, Literal

import httpx
import openai
import pytest
from conftest import Serve
from openai.types import Batch

from storygen import Outline, SceneContext, SceneDraft, SceneTask, ScriptRequest
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.backends.simulated import SIM_MODEL
from storygen.core.planning import scene_durations
from storygen.core.prompts import (
    SYSTEM,
    Kind,
    extract_json,
    json_instruction,
    outline_prompt,
    scene_prompt,
)
from storygen.sim import RunningServer, SimServerConfig

KEY = "sk-batch-0123456789abcdef"
CHAT: Literal["/v1/chat/completions"] = "/v1/chat/completions"
OVER = ("completed", "expired", "failed", "cancelled")
PHASES = ["validating", "in_progress", "finalizing", "completed"]
REQUEST = ScriptRequest(idea="A robot learns to paint", duration_s=48, seed=7)  # 6 scenes


def sdk(server: RunningServer, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)


def chat_body(server: RunningServer, kind: Kind, prompt: str, seed: int = REQUEST.seed) -> dict:
    """The chat body storygen's OpenAI backend sends for a prompt (see
    OpenAIBackend._call), built here instead of being sent."""
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model=SIM_MODEL, api_keys=[KEY]
    )
    backend = OpenAIBackend(config)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{prompt}\n\n{json_instruction(kind)}"},
    ]
    params = backend._params(kind, backend.mode(), backend.max_tokens())
    return {"model": backend.model, "messages": messages, "seed": seed, **params}


def scene_body(server: RunningServer, k: int, outline: Outline | None = None) -> dict:
    """Scene k of REQUEST, with the outline's beats as the outline strategy gives them."""
    durations = scene_durations(REQUEST.duration_s, REQUEST.seconds_per_scene)
    context = SceneContext()
    if outline is not None:
        beats = outline.beats
        context = SceneContext(
            outline=outline,
            beat=beats[k - 1],
            previous_beat=beats[k - 2] if k > 1 else None,
            next_beat=beats[k] if k < len(beats) else None,
        )
    task = SceneTask(REQUEST, k, len(durations), durations[k - 1], context)
    return chat_body(server, "scene", scene_prompt(task))


def line(custom_id: str, body: dict, url: str = CHAT) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def upload(client: openai.OpenAI, rows: Iterable[dict | str]) -> str:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    return client.files.create(file=("in.jsonl", io.BytesIO(text.encode())), purpose="batch").id


def submit(client: openai.OpenAI, rows: Iterable[dict | str]) -> Batch:
    file_id = upload(client, rows)
    return client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h")


def poll(
    client: openai.OpenAI, batch_id: str, until: Any = None, deadline_s: float = 10.0
) -> list[Batch]:
    """Every state seen until ``until(batch)`` holds (by default: the batch is over)."""
    done = until or (lambda b: b.status in OVER)
    seen: list[Batch] = []
    deadline = time.monotonic() + deadline_s
    while not seen or not done(seen[-1]):
        assert time.monotonic() < deadline, f"batch stuck at {seen[-1].status}"
        if seen:
            time.sleep(0.01)  # the poll interval; the loop ends on what the server says
        seen.append(client.batches.retrieve(batch_id))
    return seen


def rows_of(client: openai.OpenAI, file_id: str | None) -> dict[str, dict]:
    """A result file's lines by custom_id (no custom_id may appear twice)."""
    if file_id is None:
        return {}
    rows = [json.loads(t) for t in client.files.content(file_id).text.splitlines()]
    by_id = {r["custom_id"]: r for r in rows}
    assert len(by_id) == len(rows), "a custom_id came back twice"
    return by_id


def content(row: dict) -> str:
    return row["response"]["body"]["choices"][0]["message"]["content"]


def stats(server: RunningServer) -> dict:
    return httpx.get(f"http://{server.host}:{server.port}/sim/stats").json()


def scene_lines(server: RunningServer, n: int) -> list[dict]:
    """n scene requests for distinct custom_ids (scenes of REQUEST, reused round-robin)."""
    bodies = [scene_body(server, k) for k in range(1, 7)]
    return [line(f"scene-{i}", bodies[i % 6]) for i in range(n)]


# --- answers ------------------------------------------------------------------------------


def test_outline_then_scenes_come_back_as_the_live_endpoint_writes_them(serve: Serve) -> None:
    """Round 1 holds the outline; round 2 holds every scene with its beats. Each line's
    answer is exactly the live endpoint's answer to the same body, text and usage alike,
    so a client can validate a batch line like a live answer."""
    server = serve(batch_delay_s=0.05)
    client = sdk(server)

    outline_line = line("outline", chat_body(server, "outline", outline_prompt(REQUEST, 6)))
    first = poll(client, submit(client, [outline_line]).id)[-1]
    assert first.status == "completed" and first.error_file_id is None
    outline = Outline.model_validate(
        extract_json(content(rows_of(client, first.output_file_id)["outline"]))
    )
    assert len(outline.beats) == 6

    bodies = {f"scene{k}": scene_body(server, k, outline) for k in range(1, 7)}
    second = poll(client, submit(client, [line(c, b) for c, b in bodies.items()]).id)[-1]
    assert second.status == "completed" and second.error_file_id is None
    assert second.request_counts is not None
    assert (second.request_counts.total, second.request_counts.completed) == (6, 6)
    out = rows_of(client, second.output_file_id)
    assert set(out) == set(bodies)
    for custom_id, body in bodies.items():
        row = out[custom_id]
        assert row["error"] is None and row["response"]["status_code"] == 200
        scene = SceneDraft.model_validate(extract_json(content(row)))
        k = int(custom_id.removeprefix("scene"))
        assert scene.summary == outline.beats[k - 1].rstrip(".")  # written from its own beat
        live = client.chat.completions.create(**body)
        assert content(row) == live.choices[0].message.content
        assert live.usage is not None
        assert row["response"]["body"]["usage"] == live.usage.model_dump(exclude_none=True)

    output_file = client.files.retrieve(second.output_file_id or "")
    assert output_file.purpose == "batch_output" and output_file.bytes > 0


def test_a_line_the_model_refuses_gets_the_live_refusal_in_the_error_file(serve: Serve) -> None:
    """A server without json_schema refuses it in a batch line as it does live: the
    client sees the same 400 and can step down to json_object, as it does live."""
    server = serve(batch_delay_s=0.02, structured="json_object")
    client = sdk(server)
    body = scene_body(server, 1)
    assert body["response_format"]["type"] == "json_schema"
    batch = poll(client, submit(client, [line("scene1", body)]).id)[-1]
    assert batch.status == "completed" and batch.output_file_id is None
    refused = rows_of(client, batch.error_file_id)["scene1"]
    with pytest.raises(openai.BadRequestError) as live:
        client.chat.completions.create(**body)
    assert refused["error"] is None
    assert refused["response"]["status_code"] == 400
    assert refused["response"]["body"] == {"error": live.value.body}  # the SDK unwraps "error"


# --- status and time ----------------------------------------------------------------------


def test_status_moves_through_its_phases_and_completes_after_the_delay(serve: Serve) -> None:
    """validating, in_progress, finalizing, then completed once the delay is over, never
    before; no result file is named before the end, and the counts only grow."""
    delay = 0.5
    server = serve(batch_delay_s=delay)
    client = sdk(server)
    rows = scene_lines(server, 12)
    file_id = upload(client, rows)
    asked_at = time.monotonic()
    created = client.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h")
    assert created.status == "validating" and created.output_file_id is None
    seen = [created, *poll(client, created.id)]
    over_at = time.monotonic()

    statuses = [b.status for b in seen]
    assert statuses[-1] == "completed" and "in_progress" in statuses
    assert [PHASES.index(s) for s in statuses] == sorted(PHASES.index(s) for s in statuses)
    assert over_at - asked_at >= delay - 0.005  # the server's clock is time.time()
    assert all(b.output_file_id is None for b in seen[:-1])
    assert set(rows_of(client, seen[-1].output_file_id)) == {r["custom_id"] for r in rows}
    completed = [b.request_counts.completed for b in seen if b.request_counts]
    assert completed == sorted(completed) and completed[-1] == 12
    last = seen[-1]
    assert last.completed_at is not None and last.in_progress_at is not None
    assert last.created_at <= last.in_progress_at <= last.completed_at


# --- failed, expired and cancelled lines --------------------------------------------------


def outcome(server: RunningServer, rows: list[dict]) -> tuple[set[str], set[str], set[str]]:
    """(answered, failed with a 500, expired) custom_ids of one finished batch."""
    client = sdk(server)
    batch = poll(client, submit(client, rows).id)[-1]
    out, err = rows_of(client, batch.output_file_id), rows_of(client, batch.error_file_id)
    assert not set(out) & set(err), "a line is in both files"
    assert set(out) | set(err) == {r["custom_id"] for r in rows}, "a line vanished"
    assert batch.request_counts is not None
    assert batch.request_counts.completed == len(out)
    assert batch.request_counts.failed == len(err)
    for row in out.values():
        assert row["response"]["status_code"] == 200 and row["error"] is None
        SceneDraft.model_validate(extract_json(content(row)))  # the answer is a scene
    failed = {c for c, r in err.items() if r["response"] and r["response"]["status_code"] == 500}
    expired = {c for c, r in err.items() if r["error"] and r["error"]["code"] == "batch_expired"}
    assert failed | expired == set(err) and not failed & expired
    assert all(err[c]["response"] is None for c in expired)
    assert all(err[c]["error"] is None and "error" in err[c]["response"]["body"] for c in failed)
    if expired:
        assert batch.status == "expired" and batch.expired_at is not None
    else:
        assert batch.status == "completed"
    return set(out), failed, expired


def test_failed_and_expired_lines_land_in_the_error_file_and_none_vanish(serve: Serve) -> None:
    """A share of lines fails (500) and a share expires (batch_expired): each custom_id
    is in exactly one file, the counts agree, and the draw is the same on every server."""
    settings: dict[str, Any] = {"batch_delay_s": 0.05}
    settings |= {"batch_fail_rate": 0.25, "batch_expire_rate": 0.15}
    server = serve(**settings)
    rows = scene_lines(server, 60)
    answered, failed, expired = outcome(server, rows)
    assert 4 <= len(failed) <= 25 and 2 <= len(expired) <= 20
    assert outcome(serve(**settings), rows) == (answered, failed, expired)


def test_a_failed_line_sent_again_draws_afresh(serve: Serve) -> None:
    """A retry round resubmits the same custom_id: it must not be doomed to fail again,
    yet the same submissions give the same answers on a fresh server."""
    settings: dict[str, Any] = {"batch_delay_s": 0.02, "batch_fail_rate": 0.5}
    server = serve(**settings)
    rows = scene_lines(server, 24)
    _, failed, _ = outcome(server, rows)
    assert len(failed) >= 4
    retry = [r for r in rows if r["custom_id"] in failed]
    answered_again, failed_again, _ = outcome(server, retry)
    assert answered_again, "every failed line failed again: the retry drew the same fate"

    replay = serve(**settings)
    assert outcome(replay, rows)[1] == failed
    assert outcome(replay, retry)[1] == failed_again


def test_cancel_keeps_the_lines_done_and_reports_the_rest_cancelled(serve: Serve) -> None:
    """Cancelling mid-run: cancelling, then cancelled; the lines answered before the
    cancel are in the output file, every other line is in the error file as
    batch_cancelled, and a finished batch cannot be cancelled."""
    server = serve(batch_delay_s=3.0)
    client = sdk(server)
    rows = scene_lines(server, 30)
    batch = submit(client, rows)
    poll(client, batch.id, until=lambda b: b.request_counts and b.request_counts.completed >= 1)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    cancelled = poll(client, batch.id)[-1]
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert client.batches.cancel(batch.id).status == "cancelled"  # asking twice is harmless

    out, err = rows_of(client, cancelled.output_file_id), rows_of(client, cancelled.error_file_id)
    assert cancelled.request_counts is not None
    assert 1 <= len(out) == cancelled.request_counts.completed < 30
    assert set(out) | set(err) == {r["custom_id"] for r in rows} and not set(out) & set(err)
    assert {r["error"]["code"] for r in err.values()} == {"batch_cancelled"}

    quick = sdk(serve(batch_delay_s=0.02))
    done = submit(quick, rows[:1])
    poll(quick, done.id)
    with pytest.raises(openai.ConflictError, match="completed"):
        quick.batches.cancel(done.id)


# --- refused input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "at"),
    [
        ("not JSON", "invalid_json_line", 2),
        ("no custom_id", "missing_required_parameter", 2),
        ("duplicate custom_id", "duplicate_custom_id", 3),
        ("wrong url", "url_mismatch", 2),
    ],
)
def test_a_bad_input_file_fails_the_batch_and_says_which_line(
    serve: Serve, name: str, code: str, at: int
) -> None:
    """Like OpenAI: the batch is created, then fails its validation with the code and
    line of what was wrong, and nothing is answered."""
    server = serve(batch_delay_s=0.05)
    client = sdk(server)
    good = scene_lines(server, 3)
    rows: list[dict | str] = list(good)
    if name == "not JSON":
        rows[1] = '{"custom_id": "scene-1", "method": "POST"'
    elif name == "no custom_id":
        rows[1] = {k: v for k, v in good[1].items() if k != "custom_id"}
    elif name == "duplicate custom_id":
        rows[2] = {**good[2], "custom_id": good[0]["custom_id"]}
    else:
        rows[1] = {**good[1], "url": "/v1/completions"}
    created = submit(client, rows)
    assert created.status == "validating"
    batch = poll(client, created.id)[-1]
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data
    assert [(e.code, e.line) for e in batch.errors.data] == [(code, at)]
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts is not None and batch.request_counts.total == 0


def test_create_refuses_an_unknown_file_endpoint_or_window(serve: Serve) -> None:
    """Mistakes in the create call itself are refused at once, as OpenAI does."""
    server = serve(batch_delay_s=0.05)
    client = sdk(server)
    file_id = upload(client, scene_lines(server, 1))
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint=CHAT, completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(
            input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(
            input_file_id=file_id,
            endpoint=CHAT,
            completion_window="1h",  # type: ignore[arg-type]
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert stats(server)["batches_created"] == 0


# --- keys and counters --------------------------------------------------------------------


def test_every_batch_route_refuses_an_unknown_or_missing_key(serve: Serve) -> None:
    """The Batch API checks keys as the chat endpoint does: 401, and nothing stored."""
    server = serve(batch_delay_s=0.02, api_keys=frozenset({KEY}))
    good = sdk(server)
    batch = poll(good, submit(good, scene_lines(server, 2)).id)[-1]
    file_id = batch.output_file_id or ""
    bad = sdk(server, key="sk-wrong-000000000000")
    attempts = [
        lambda: upload(bad, scene_lines(server, 1)),
        lambda: bad.files.retrieve(file_id),
        lambda: bad.files.content(file_id),
        lambda: bad.batches.create(input_file_id=file_id, endpoint=CHAT, completion_window="24h"),
        lambda: bad.batches.retrieve(batch.id),
        lambda: bad.batches.cancel(batch.id),
        lambda: bad.batches.list(),
    ]
    for attempt in attempts:
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
            attempt()
    base = f"http://{server.host}:{server.port}/v1"
    for path in ("/files/" + file_id + "/content", "/batches/" + batch.id, "/batches"):
        assert httpx.get(base + path).status_code == 401  # no Authorization header at all
    seen = stats(server)
    assert (seen["files_uploaded"], seen["batches_created"]) == (1, 1)


def test_stats_prove_one_submission_and_requests_per_round_not_per_line(serve: Serve) -> None:
    """A client that re-attaches to a batch (retrieves it again) never creates a second
    one, and its HTTP requests do not grow with the number of lines."""
    server = serve(batch_delay_s=0.1)
    client = sdk(server)
    batch = submit(client, scene_lines(server, 40))
    polls = poll(client, batch.id)
    reattached = client.batches.retrieve(batch.id)  # a restarted client finds it again
    assert reattached.id == batch.id and reattached.status == "completed"
    rows_of(client, reattached.output_file_id)

    seen = stats(server)
    assert seen["files_uploaded"] == 1 and seen["batches_created"] == 1
    assert seen["batch_lines"] == 40
    assert seen["batch_polls"] == len(polls) + 1
    assert seen["batch_http_requests"] == 2 + len(polls) + 1 + 1  # upload, create, GETs, file
    assert seen["requests"] == 0  # no line went through the live endpoint


def test_listing_pages_newest_first(serve: Serve) -> None:
    """GET /v1/batches pages with limit and after, newest first, as the SDK expects."""
    server = serve(batch_delay_s=0.02)
    client = sdk(server)
    ids = [submit(client, scene_lines(server, 1)).id for _ in range(3)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == [ids[2], ids[1]] and first.has_more
    second = client.batches.list(limit=2, after=ids[1])
    assert [b.id for b in second.data] == [ids[0]] and not second.has_more
    assert [b.id for b in client.batches.list(limit=1)] == ids[::-1]  # the SDK's auto-paging


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("batch_delay_s", -1.0), ("batch_fail_rate", 1.5), ("batch_expire_rate", -0.1)],
)
def test_batch_settings_out_of_range_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        SimServerConfig(**{field: value})  # type: ignore[arg-type]
