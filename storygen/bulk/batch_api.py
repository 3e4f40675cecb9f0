"""A bulk run through the provider's Batch API: rounds of jobs at about half the price.

Every job is written to the manifest before it is created (with a token in its metadata)
and its id right after, so a process killed at any point and started again re-attaches to
the jobs in flight and never submits one twice: a duplicate would be paid twice. Each
answer is checked like a live answer and checkpointed the moment its line is read; a line
that failed, expired or was malformed goes into the next round, up to ``attempts`` times.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletion

from storygen.backends.batch_api_client import TERMINAL, BatchClient
from storygen.backends.openai_compat import OpenAIBackend
from storygen.bulk.batch_api_plan import (
    Planned,
    ScriptState,
    context_upto,
    parse_custom_id,
    plan_round,
)
from storygen.bulk.folder import BulkDir, Entry
from storygen.core.errors import MalformedOutputError, StoryGenError
from storygen.core.looks import scene_of
from storygen.core.models import Outline, RunMeta, SceneDraft, SceneTiming
from storygen.core.planning import assemble_script, scene_durations
from storygen.core.prompts import estimate_tokens
from storygen.core.tasks import Generation
from storygen.store import RunDir

log = logging.getLogger("storygen")
MAX_LINES = 50_000  # OpenAI's limit of requests per batch


@dataclass(frozen=True)
class Polling:
    """Waits between status checks: ``first_s``, growing by ``factor`` up to ``most_s``."""

    first_s: float = 5.0
    most_s: float = 60.0
    factor: float = 1.5


@dataclass
class RoundReport:
    round: int
    batch_id: str
    status: str
    calls: int
    ok: int
    failed: int


def take_line(raw: str, answers: dict[str, tuple[dict[str, Any] | None, str]]) -> None:
    """One line of an output or error file into ``answers``: the body, or why it failed."""
    try:
        line = json.loads(raw)
        cid = str(line["custom_id"])
    except (ValueError, KeyError, TypeError):
        log.warning("a Batch API line that is not JSON with a custom_id was skipped")
        return
    response = line.get("response") or {}
    error = line.get("error")
    if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
        answers[cid] = (response["body"], "")
        return
    detail = (error or {}).get("message") or (response.get("body") or {}).get("error")
    code = (error or {}).get("code") or response.get("status_code")
    answers[cid] = (None, f"the line failed ({code}: {detail})"[:300])


def scene_timing(
    state: ScriptState,
    index: int,
    record: dict[str, Any],
    at: float,
    tries: int,
    draft: Generation[SceneDraft],
    body: dict[str, Any],
) -> SceneTiming:
    """A Batch API scene's timing: its round is its group, the job's life its call."""
    start = float(record["submitted_at"])
    upto = context_upto(state.request, index)
    return SceneTiming(
        index=index,
        group=int(record["round"]),
        start_s=start,
        end_s=at,
        attempts=1 + tries,
        context_lag=index - 1 - upto,
        context_size=min(upto, state.request.context_scenes),
        had_outline=state.outline is not None,
        prompt_tokens=draft.prompt_tokens or estimate_tokens(json.dumps(body)),
        completion_tokens=draft.completion_tokens,
        service_s=at - start,
        call_start_s=start,
    )


class BatchRounds:
    """The rounds of one bulk run; ``run()`` ends when every script is finished or given up."""

    def __init__(
        self,
        bulk: BulkDir,
        backend: OpenAIBackend,
        client: BatchClient,
        *,
        attempts: int = 3,
        polling: Polling | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_round: Callable[[RoundReport], None] | None = None,
    ) -> None:
        self.bulk, self.backend, self.client = bulk, backend, client
        self.attempts, self.polling = attempts, polling or Polling()
        self.sleep, self.on_round = sleep, on_round
        self.entries = {e.row: e for e in bulk.entries}
        self.runs: dict[int, RunDir] = {row: bulk.run(e) for row, e in self.entries.items()}
        self.zero: float = bulk.manifest.begin_rounds(time.time())

    # -- the store is the truth --------------------------------------------------------
    def _state(self, row: int) -> ScriptState:
        run = self.runs[row]
        scenes = {k: s for k, (s, _) in run.load_checkpoint().items()}
        failed = run.status().get("status") == "failed"
        return ScriptState(row, run.request(), run.load_outline(), scenes, given_up=failed)

    def states(self) -> list[ScriptState]:
        return [self._state(row) for row in sorted(self.runs)]

    # -- the loop --------------------------------------------------------------------
    def run(self) -> None:
        with contextlib.ExitStack() as stack:
            for run in self.runs.values():  # one writer per run, as in live runs
                stack.enter_context(run.writer())
            for row, run in self.runs.items():
                if run.status().get("status") != "finished":
                    self._finish_if_done(row)
            self._attach()
            while calls := plan_round(self.states()):
                self._submit(calls)
                self._attach()

    def _attach(self) -> None:
        """Wait for every job this bulk run has in flight, then read its lines."""
        for record in self.bulk.manifest.batches:
            if record["state"] == "read":
                continue
            if record.get("batch_id") is None:  # killed around the create call
                found = self.client.find(record["token"])
                if found is None:
                    record["state"] = "read"  # never created: its calls are planned again
                    record["status"] = "not created"
                    self.bulk.save()
                    continue
                record["batch_id"] = found.id
                self.bulk.save()
            batch = self._wait(record["batch_id"])
            self._read(record, batch)

    def _wait(self, batch_id: str) -> Any:
        wait = self.polling.first_s
        while True:
            batch = self.client.retrieve(batch_id)
            if batch.status in TERMINAL:
                return batch
            self.sleep(wait)
            wait = min(self.polling.most_s, wait * self.polling.factor)

    def _submit(self, calls: list[Planned]) -> None:
        rounds = 1 + max((r["round"] for r in self.bulk.manifest.batches), default=0)
        for start in range(0, len(calls), MAX_LINES):
            chunk = calls[start : start + MAX_LINES]
            token = uuid.uuid4().hex
            record: dict[str, Any] = {
                "round": rounds,
                "token": token,
                "state": "submitting",
                "batch_id": None,
                "calls": [c.custom_id for c in chunk],
                "submitted_at": time.time() - self.zero,
            }
            self.bulk.manifest.batches.append(record)
            self.bulk.save()  # before the create call: a restart looks for this token
            lines = [self._line(c) for c in chunk]
            record["input_file_id"] = self.client.upload(f"storygen-round{rounds}.jsonl", lines)
            batch = self.client.create(record["input_file_id"], token)
            record["batch_id"], record["state"] = batch.id, "submitted"
            self.bulk.save()

    def _line(self, call: Planned) -> dict[str, Any]:
        body = self.backend.chat_body(call.kind, call.prompt, call.seed)  # type: ignore[arg-type]
        return {
            "custom_id": call.custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }

    # -- reading a finished job --------------------------------------------------------
    def _read(self, record: dict[str, Any], batch: Any) -> None:
        answers: dict[str, tuple[dict[str, Any] | None, str]] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for raw in self.client.content(file_id).splitlines():
                    if raw.strip():
                        take_line(raw, answers)
        ok = 0
        read_at = time.time() - self.zero
        states: dict[int, ScriptState] = {}  # read from disk once per job, then kept current
        for cid in record["calls"]:
            body, why = answers.get(cid, (None, f"no line came back (the job {batch.status})"))
            if body is not None:
                try:
                    row = parse_custom_id(cid)[0]
                    if row not in states:
                        states[row] = self._state(row)
                    self._accept(cid, body, record, read_at, states[row])
                    ok += 1
                    continue
                except (MalformedOutputError, ValueError) as exc:
                    why = f"the answer was not usable: {exc}"
            self._failed(cid, why)
        record["state"], record["status"] = "read", batch.status
        record["ok"], record["failed"] = ok, len(record["calls"]) - ok
        self.bulk.save()
        for row in sorted({parse_custom_id(cid)[0] for cid in record["calls"]}):
            self._finish_if_done(row, states.get(row))
        if self.on_round:
            report = RoundReport(
                record["round"], batch.id, batch.status, len(record["calls"]), ok, record["failed"]
            )
            self.on_round(report)

    def _accept(
        self, cid: str, body: dict[str, Any], record: dict[str, Any], at: float, state: ScriptState
    ) -> None:
        """Check one answer and checkpoint it; ``state`` is kept in step with the store."""
        row, index = parse_custom_id(cid)
        run = self.runs[row]
        completion = ChatCompletion.model_validate(body)
        limit = _limit_met(completion) or self.backend.max_tokens()
        if index == 0:
            gen = self.backend.read_answer("outline", Outline, completion, limit, 0)
            if len(gen.value.beats) != state.total:
                raise MalformedOutputError(
                    f"the outline must have exactly {state.total} beats (it had "
                    f"{len(gen.value.beats)})"
                )
            if state.outline is None:
                run.save_outline(gen.value)
                state.outline = gen.value
                self._tokens(row, gen.prompt_tokens, gen.completion_tokens)
            return
        if index in state.scenes:
            return  # read before a restart: never written twice
        draft = self.backend.read_answer("scene", SceneDraft, completion, limit, 0)
        durations = scene_durations(state.request.duration_s, state.request.seconds_per_scene)
        bible = state.outline.bible if state.outline is not None else None  # as in a live run
        scene = scene_of(draft.value, index, durations[index - 1], bible)
        tries = int(self.bulk.manifest.tries.get(cid, 0))
        timing = scene_timing(state, index, record, at, tries, draft, body)
        run.append(scene, timing)
        state.scenes[index] = scene

    def _tokens(self, row: int, prompt: int, completion: int) -> None:
        self.runs[row].set_status("running", outline_tokens=[prompt, completion])

    def _failed(self, cid: str, why: str) -> None:
        tries = self.bulk.manifest.tries
        tries[cid] = int(tries.get(cid, 0)) + 1
        row, index = parse_custom_id(cid)
        if tries[cid] >= self.attempts:
            what = "the outline" if index == 0 else f"scene {index}"
            message = f"{what} failed in {tries[cid]} Batch API rounds: {why}"
            self.runs[row].set_status("failed", error=message)

    def _finish_if_done(self, row: int, state: ScriptState | None = None) -> None:
        state, run = state or self._state(row), self.runs[row]
        status = run.status()
        if not state.finished or status.get("status") == "finished":
            return
        done = run.load_checkpoint()
        outline_tokens = status.get("outline_tokens") or [0, 0]
        timeline = [done[k][1] for k in sorted(done)]
        meta = RunMeta(
            run_id=run.run_id,
            backend="openai-batch",
            model=self.backend.model,
            strategy=state.request.strategy,
            concurrency=state.request.concurrency,
            wall_time_s=max(t.end_s for t in timeline),
            started_at=self.zero,
            outline_prompt_tokens=int(outline_tokens[0]),
            outline_completion_tokens=int(outline_tokens[1]),
            timeline=timeline,
        )
        scenes = [done[k][0] for k in sorted(done)]
        script = assemble_script(state.request, state.outline, scenes, meta)
        run.finish(script)
        self.bulk.write_export(row, script, run)


def forgive(bulk: BulkDir) -> list[Entry]:
    """A resume gives failed scripts fresh attempts: their calls are planned again."""
    again = []
    for entry in bulk.entries:
        run = bulk.run(entry)
        if run.status().get("status") == "failed":
            run.set_status("running", error=None)
            again.append(entry)
    prefixes = tuple(f"row{e.row}-" for e in again)
    tries = bulk.manifest.tries
    bulk.manifest.tries = {k: v for k, v in tries.items() if not k.startswith(prefixes)}
    bulk.save()
    return again


def run_via_batch_api(
    bulk: BulkDir,
    backend: OpenAIBackend,
    client: BatchClient,
    **options: Any,
) -> BatchRounds:
    rounds = BatchRounds(bulk, backend, client, **options)
    try:
        rounds.run()
    except StoryGenError:
        bulk.write_summary()
        raise
    bulk.write_summary()
    return rounds


def _limit_met(completion: ChatCompletion) -> int | None:
    """The token limit a cut-off answer met, as its usage says: each line's limit was sized
    to its own answer, so the cut-off message must name that one."""
    choice = completion.choices[0] if completion.choices else None
    cut = choice is not None and choice.finish_reason == "length"
    return completion.usage.completion_tokens if cut and completion.usage else None
