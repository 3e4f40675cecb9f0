"""Pipelined runs: each scene starts on its predecessor's streamed summary, and a summary
once released is pinned, so no later scene saw a summary the final script lacks."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from conftest import fast_policy

from storygen import PermanentError, RunFailedError, RunStore, ScriptRequest, generate, resume
from storygen.backends.simulated import SimulatedBackend
from storygen.core.models import HedgeSettings, SceneDraft, Script
from storygen.core.tasks import Generation, SceneTask, StreamEvents
from storygen.engine.events import Event, SceneFinished, SceneSummarized
from storygen.scheduling.ideal import ideal_of, mean_lag

FAST = 0.002


class Recording(SimulatedBackend):
    """The real simulated backend, remembering which summaries each scene was told."""

    def __init__(self, **kw: object) -> None:
        super().__init__(time_scale=kw.pop("time_scale", FAST), **kw)  # type: ignore[arg-type]
        self.told: dict[int, list[tuple[int, str]]] = {}

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        self.told.setdefault(task.index, []).extend(task.context.previous)
        return await super().write_scene(
            task, attempt=attempt, feedback=feedback, hedge=hedge, events=events
        )


def _request(**kw: object) -> ScriptRequest:
    fields: dict[str, object] = {
        "idea": "A lighthouse keeper finds a map",
        "duration_s": 240,
        "strategy": "pipelined",
        "concurrency": 10,
    }
    return ScriptRequest(**(fields | kw))


def _every_told_summary_is_final(script: Script, backend: Recording) -> int:
    final = {s.index: s.summary for s in script.scenes}
    told = [(k, i, s) for k, seen in backend.told.items() for i, s in seen]
    wrong = [(k, i) for k, i, s in told if final[i] != s]
    assert not wrong, f"scenes told a summary the script does not contain: {wrong[:5]}"
    return len(told)


class WaitsForSuccessor(Recording):
    """Scene k's call streams its summary, then does not end until scene k+1 has started:
    a run that waited for whole scenes would never start k+1, and the call gives up."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.entered: dict[int, asyncio.Event] = {}

    def _entered(self, k: int) -> asyncio.Event:
        return self.entered.setdefault(k, asyncio.Event())

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        k = task.index
        self._entered(k).set()
        gen = await super().write_scene(
            task, attempt=attempt, feedback=feedback, hedge=hedge, events=events
        )
        if k < self.total:
            try:  # a generous bound: only a run that never starts k+1 reaches it
                await asyncio.wait_for(self._entered(k + 1).wait(), timeout=30)
            except TimeoutError:
                never = f"scene {k + 1} never started on scene {k}'s summary"
                raise PermanentError(never) from None
        return gen


def test_the_next_scene_starts_on_the_summary_not_on_the_whole_scene() -> None:
    events: list[Event] = []
    backend = WaitsForSuccessor(total=30)
    script = generate(_request(), backend, subscribers=[events.append])
    timeline = {t.index: t for t in script.meta.timeline}
    assert mean_lag(script) == 0
    assert all(t.context_size == min(t.index - 1, 5) for t in timeline.values())
    for t in timeline.values():  # first token, then the summary, then the whole answer
        assert t.first_token_s is not None and t.summary_s is not None
        assert t.call_start_s is not None
        assert t.call_start_s <= t.first_token_s <= t.summary_s <= t.end_s
    for k in range(1, 30):  # scene k+1 started only once scene k's summary was known
        assert timeline[k + 1].start_s >= timeline[k].summary_s  # type: ignore[operator]
    released = [e.index for e in events if isinstance(e, SceneSummarized)]
    assert released == list(range(1, 31))
    # every scene ended after its successor started: they overlapped, by construction
    finished = [e.timing.index for e in events if isinstance(e, SceneFinished)]
    assert sorted(finished) == list(range(1, 31))


def test_the_ideal_schedule_is_a_chain_of_times_to_summary() -> None:
    script = generate(_request(), Recording(time_scale=0.01))
    sequential = sum(t.service_s for t in script.meta.timeline)
    ideal = ideal_of(script)
    assert ideal < sequential / 2  # about 4x at these draws; the chain, not N calls
    chain = sum(t.time_to_summary_s or 0 for t in script.meta.timeline[:-1])
    assert ideal == pytest.approx(chain + script.meta.timeline[-1].service_s, rel=0.15)


def test_a_fault_after_the_summary_keeps_the_released_summary() -> None:
    """A simulated 503 comes halfway through the call, after the summary streamed in: the
    retry is told that summary and the kept scene carries it."""
    backend = Recording(error_rate=0.3)
    script = generate(_request(), backend, policy=fast_policy(8))
    retried_after_release = [
        t
        for t in script.meta.timeline
        if t.attempts > 1 and t.summary_s is not None and t.summary_s < (t.call_start_s or 0)
    ]
    assert retried_after_release, "no scene failed after releasing its summary"
    assert _every_told_summary_is_final(script, backend) > 100


def test_hedged_copies_release_the_first_summary_and_keep_it() -> None:
    backend = Recording(hang_rate=0.15, time_scale=0.005)
    request = _request(hedge=HedgeSettings(after_s=0.01, budget=0.5))
    script = generate(request, backend, policy=fast_policy())
    assert script.meta.hedges > 0
    assert _every_told_summary_is_final(script, backend) > 100
    assert mean_lag(script) == 0


class NotStreaming(Recording):
    streams = False

    async def write_scene(  # type: ignore[override]
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        return await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)


def test_a_backend_that_cannot_stream_degrades_to_whole_scenes_and_says_so() -> None:
    script = generate(_request(duration_s=80), NotStreaming())
    assert script.meta.stream_note is not None
    assert "does not stream" in script.meta.stream_note
    assert "windowed" in script.meta.stream_note
    timeline = script.meta.timeline
    assert mean_lag(script) == 0
    # one at a time: each scene waited for its predecessor's whole answer
    assert all(b.start_s >= a.end_s for a, b in itertools.pairwise(timeline))
    assert all(t.summary_s is None for t in timeline)


class DiesAfterSummary(Recording):
    """Scene ``k`` streams its summary in, then fails for good: the run stops."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        if task.index != self.k:
            return await super().write_scene(
                task, attempt=attempt, feedback=feedback, hedge=hedge, events=events
            )
        assert events is not None and events.needed
        events.first_token()
        events.summary("The keeper rows out alone and the lamp goes dark behind him.")
        await asyncio.sleep(0.05)  # later scenes start, and some finish, meanwhile
        raise PermanentError("the server went away")


def test_a_resumed_run_writes_a_released_scene_with_its_pinned_summary(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_dir = store.create(_request(), SimulatedBackend().settings())
    dying = DiesAfterSummary(4)
    with pytest.raises(RunFailedError):
        generate(_request(), dying, run_dir=run_dir, policy=fast_policy())
    pinned = [json.loads(line) for line in (run_dir.path / "pinned.jsonl").read_text().splitlines()]
    assert {p["index"] for p in pinned} >= {4}
    written = run_dir.load_checkpoint()
    assert 4 not in written and any(k > 4 for k in written)  # later scenes were told it
    told_4 = [s for k, seen in dying.told.items() if k > 4 for i, s in seen if i == 4]
    assert set(told_4) == {"The keeper rows out alone and the lamp goes dark behind him."}
    again = Recording()
    script = resume(run_dir, again, policy=fast_policy())
    assert script.scenes[3].summary == told_4[0]
    # the resumed call was told the pinned summary, in the prompt's own words
    assert _every_told_summary_is_final(script, again) >= 0


class RefusesToStream(Recording):
    """Streams nothing: says why, then tells first token and summary with the answer, as the
    OpenAI backend does after a server refused stream=True."""

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        assert events is not None
        events.unstreamed("http://x/v1 cannot stream: stream is not supported")
        gen = await super().write_scene(task, attempt=attempt, feedback=feedback, hedge=hedge)
        events.first_token()
        events.summary(gen.value.summary)
        return gen


def test_a_call_that_could_not_stream_is_not_timed_as_streamed() -> None:
    script = generate(_request(duration_s=80), RefusesToStream())
    assert script.meta.stream_note is not None
    assert script.meta.stream_note.startswith("http://x/v1 cannot stream")
    assert all(t.summary_s is None and t.first_token_s is None for t in script.meta.timeline)
    assert script.meta.mean_time_to_summary_s is None
    assert mean_lag(script) == 0
