"""Hedged calls: a backup starts only after the delay, the first answer wins, the loser is
cancelled, the budget caps backups, and every scene is still written exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FAST, fast_policy

from storygen import (
    Generation,
    RunStore,
    SceneTask,
    ScriptRequest,
    SimulatedBackend,
    TransientError,
    generate,
)
from storygen.cli.runs import summary as _summary
from storygen.core.models import HedgeSettings, SceneDraft
from storygen.policies.hedging import (
    FACTOR,
    FALLBACK,
    FLOOR_S,
    LAST_FACTOR,
    MIN_SAMPLES,
    Hedger,
)

SLOW = 0.6  # a hung primary: many times the ~16 ms of an ordinary simulated call


@dataclass
class Copy:
    index: int
    hedge: int
    started: float
    ended: float | None = None
    cancelled: bool = False


@dataclass
class HangingBackend(SimulatedBackend):
    """The simulated LLM, except that the primary call of the chosen scenes hangs."""

    hang: set[int] = field(default_factory=set)
    hang_backup: set[tuple[int, int]] = field(default_factory=set)  # (scene, backup number)
    copies: list[Copy] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(time_scale=FAST)

    async def write_scene(
        self, task: SceneTask, *, attempt: int, feedback: str | None = None, hedge: int = 0
    ) -> Generation[SceneDraft]:
        loop = asyncio.get_running_loop()
        copy = Copy(task.index, hedge, loop.time())
        self.copies.append(copy)
        try:
            if (task.index in self.hang and hedge == 0) or (task.index, hedge) in self.hang_backup:
                await asyncio.sleep(SLOW)
            gen = await super().write_scene(task, attempt=attempt, feedback=feedback)
        except asyncio.CancelledError:
            copy.cancelled = True
            raise
        copy.ended = loop.time()
        return gen


def request(**hedge: float) -> ScriptRequest:
    return ScriptRequest(
        idea="A heist",
        duration_s=160,
        strategy="windowed",
        concurrency=4,
        hedge=HedgeSettings(**hedge),
    )


def test_a_hung_call_gets_a_backup_after_the_delay_and_the_backup_wins(tmp_path: Path) -> None:
    backend = HangingBackend(hang={6})
    script = generate(request(after_s=0.1), backend, store=RunStore(tmp_path), policy=fast_policy())
    primary, backup = [c for c in backend.copies if c.index == 6]
    assert (primary.hedge, backup.hedge) == (0, 1)
    assert backup.started - primary.started >= 0.1 - 0.005  # not before the delay (timer slack)
    assert backup.started - primary.started < SLOW  # but long before the hang would end
    assert primary.cancelled and primary.ended is None  # the loser was cancelled
    timing = script.meta.timeline[5]
    assert timing.hedged and timing.hedge_won
    assert timing.start_s < timing.hedge_start_s < timing.end_s  # type: ignore[operator]
    assert timing.end_s - timing.start_s < SLOW
    # its call time counts from the primary's start: the wait for the backup, then its call
    drawn = backend.latency(0, "scene6", 1, hedge=1)
    waited = timing.hedge_start_s - timing.start_s  # type: ignore[operator]
    assert timing.service_s == pytest.approx(waited + drawn, abs=0.02)
    # the backup's answer is the scene, and the cancelled copy's tokens are counted
    assert timing.extra_prompt_tokens == timing.prompt_tokens > 0
    assert script.meta.hedges == 1
    others = [c for c in backend.copies if c.index != 6]
    assert all(c.hedge == 0 and not c.cancelled for c in others)  # nobody else hedged


def test_a_primary_that_answers_before_the_delay_is_never_hedged() -> None:
    backend = HangingBackend()
    script = generate(request(after_s=0.5), backend, policy=fast_policy())
    assert [c.hedge for c in backend.copies] == [0] * 20
    assert script.meta.hedges == 0
    assert not any(t.hedged or t.extra_prompt_tokens for t in script.meta.timeline)


def test_a_backup_that_hangs_too_gets_a_backup_of_its_own() -> None:
    backend = HangingBackend(hang={6}, hang_backup={(6, 1)})
    script = generate(request(after_s=0.1, budget=0.5), backend, policy=fast_policy())
    primary, first, second = [c for c in backend.copies if c.index == 6]
    assert (primary.hedge, first.hedge, second.hedge) == (0, 1, 2)
    assert second.started - first.started >= 0.1 - 0.005  # the first backup had its delay
    assert second.ended is not None and primary.cancelled and first.cancelled
    timing = script.meta.timeline[5]
    assert timing.hedged and timing.hedge_won and timing.backups == 2
    assert timing.end_s - timing.start_s < SLOW  # the second backup's answer
    assert script.meta.hedges == 2  # both backups are extra calls
    assert timing.extra_prompt_tokens == 2 * timing.prompt_tokens
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _summary(script)
    assert out.getvalue().startswith("1 hung call hedged (with 2 backups, 10.0% extra calls)")


def test_no_call_gets_more_than_two_backups() -> None:
    backend = HangingBackend(hang={6}, hang_backup={(6, 1), (6, 2)})
    script = generate(request(after_s=0.05, budget=0.5), backend, policy=fast_policy())
    assert sorted(c.hedge for c in backend.copies if c.index == 6) == [0, 1, 2]
    assert script.meta.timeline[5].backups == 2 and not script.meta.timeline[5].hedge_won


def test_the_budget_caps_the_backups() -> None:
    backend = HangingBackend(hang=set(range(1, 21)))  # every primary hangs
    script = generate(request(after_s=0.05, budget=0.1), backend, policy=fast_policy())
    backups = [c for c in backend.copies if c.hedge]
    assert len(backups) == 2 == script.meta.hedges  # 10% of 20 scenes
    assert len(script.scenes) == 20  # the others waited for their primary


def test_a_hedged_scene_is_written_once_and_the_timeline_stays_consistent(
    tmp_path: Path,
) -> None:
    backend = HangingBackend(hang={2, 9, 15})
    store = RunStore(tmp_path)
    script = generate(request(after_s=0.08, budget=0.2), backend, store=store)
    (run,) = store
    lines = (run.path / "checkpoint.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["scene"]["index"] for line in lines) == list(range(1, 21))
    hedged = [t.index for t in script.meta.timeline if t.hedged]
    assert hedged == [2, 9, 15]
    for t in script.meta.timeline:
        assert t.start_s <= t.end_s
        assert t.service_s <= t.end_s - t.start_s + 1e-6
    tokens = sum(t.prompt_tokens for t in script.meta.timeline)
    extra = sum(t.extra_prompt_tokens for t in script.meta.timeline)
    assert script.meta.prompt_tokens == tokens + extra + script.meta.outline_prompt_tokens


def test_a_failed_primary_is_retried_not_hedged() -> None:
    from conftest import FaultyBackend

    from storygen import TransientError

    backend = FaultyBackend({(3, 1): lambda: TransientError("blip")}, time_scale=FAST)
    script = generate(request(after_s=0.5), backend, policy=fast_policy())
    assert (3, 2) in backend.attempts_seen and script.meta.timeline[2].attempts == 2
    assert script.meta.hedges == 0


async def test_the_adaptive_delay_follows_the_calls_seen_so_far() -> None:
    hedger = Hedger(HedgeSettings(), planned_calls=100)
    assert hedger.delay() is None  # nothing seen yet: no backup on a guess
    for s in (1.0, 2.0, 3.0):
        hedger.record(s)
    assert hedger.delay() == pytest.approx(FALLBACK * 2.0)  # a few: FALLBACK x the median
    for i in range(MIN_SAMPLES):
        hedger.record(1.0 + i / 100)
    ranked = sorted(hedger.samples)
    assert hedger.delay() == pytest.approx(1.75 * ranked[int(0.90 * len(ranked))])
    quick = Hedger(HedgeSettings(), planned_calls=100)
    for _ in range(MIN_SAMPLES):
        quick.record(0.01)
    assert quick.delay() == FLOOR_S  # a busy event loop is not a hung provider
    assert Hedger(HedgeSettings(after_s=2.0), 10).delay() == 2.0
    assert Hedger(HedgeSettings(budget=0.05), 75).may_hedge()
    assert not Hedger(HedgeSettings(budget=0.0), 75).may_hedge()


def p90(samples: list[float]) -> float:
    ranked = sorted(samples)
    return ranked[int(0.90 * len(ranked))]


def test_the_last_backup_of_the_budget_waits_for_a_call_surely_stuck() -> None:
    hedger = Hedger(HedgeSettings(budget=0.02), planned_calls=100)  # two backups
    for i in range(MIN_SAMPLES):
        hedger.record(1.0 + i / 100)
    assert hedger.delay() == pytest.approx(FACTOR * p90(hedger.samples))
    hedger.hedges = 1  # one spent: an ordinary slow call may have had it
    assert hedger.delay() == pytest.approx(LAST_FACTOR * p90(hedger.samples))
    assert LAST_FACTOR > FACTOR


async def test_hung_calls_do_not_push_their_own_delay_away() -> None:
    """Calls still running count with the time they have run so far; two hung ones among
    twenty used to be the 90th percentile themselves, so their delay grew as they did."""
    hedger = Hedger(HedgeSettings(), planned_calls=100)
    for i in range(MIN_SAMPLES - 2):
        hedger.record(0.1 + i / 1000)
    stuck: asyncio.Future[Generation[SceneDraft]] = asyncio.get_running_loop().create_future()

    async def hang(n: int) -> Generation[SceneDraft]:
        return await stuck

    calls = [asyncio.ensure_future(hedger.call(hang)) for _ in range(2)]
    await asyncio.sleep(0)  # both primaries are running now
    later = asyncio.get_running_loop().time() + 100.0  # they have run 100 s
    delay = hedger.delay(later)
    assert delay is not None and delay < 2 * FACTOR * FALLBACK * 0.1
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)


def quick() -> Generation[SceneDraft]:
    draft = SceneDraft(
        title="t", visual_prompt="v", narration="n", location="l", camera="c", summary="s"
    )
    return Generation(draft, prompt_tokens=1, completion_tokens=1)


async def test_running_calls_count_with_the_time_they_have_run_until_they_end() -> None:
    """The first answers of a cohort are its fastest: four calls that have run 0.25 s are
    the 90th percentile of these 22 calls, not the 0.1 s answers. Once they end, they count
    no more."""
    hedger = Hedger(HedgeSettings(), planned_calls=100)
    for _ in range(MIN_SAMPLES - 2):
        hedger.record(0.1)
    stuck: asyncio.Future[Generation[SceneDraft]] = asyncio.get_running_loop().create_future()

    async def hang(n: int) -> Generation[SceneDraft]:
        return await stuck

    calls = [asyncio.ensure_future(hedger.call(hang)) for _ in range(4)]
    await asyncio.sleep(0)  # a yield: the four primaries have started
    later = asyncio.get_running_loop().time() + 0.25
    assert hedger.delay(later) == pytest.approx(FACTOR * 0.25, abs=0.005)
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    assert hedger.delay(later) == pytest.approx(FALLBACK * 0.1)  # 18 answers, nothing running


async def test_a_primary_that_fails_while_its_backup_runs_waits_for_the_backup() -> None:
    hedger = Hedger(HedgeSettings(after_s=0.01), planned_calls=10)
    loop = asyncio.get_running_loop()
    primary: asyncio.Future[Generation[SceneDraft]] = loop.create_future()
    backup: asyncio.Future[Generation[SceneDraft]] = loop.create_future()
    backup_started = asyncio.Event()

    async def make(n: int) -> Generation[SceneDraft]:
        if n == 0:
            return await primary
        backup_started.set()
        return await backup

    call = asyncio.ensure_future(hedger.call(make))
    await backup_started.wait()
    primary.set_exception(TransientError("the primary broke"))
    for _ in range(3):
        await asyncio.sleep(0)  # yields: the hedger sees the failure
    assert not call.done()  # one copy failing is not the call failing
    backup.set_result(quick())
    result = await call
    assert result.backup_won and result.backups == 1


async def test_the_loser_is_cancelled_before_the_answer_returns_and_the_winner_times_itself() -> (
    None
):
    hedger = Hedger(HedgeSettings(after_s=0.05), planned_calls=10)
    cancelled: list[int] = []
    never: asyncio.Future[Generation[SceneDraft]] = asyncio.get_running_loop().create_future()

    async def make(n: int) -> Generation[SceneDraft]:
        if n == 0:
            try:
                return await never
            except asyncio.CancelledError:
                cancelled.append(n)
                raise
        return quick()  # the backup answers at once

    result = await hedger.call(make)
    assert cancelled == [0]  # already, not at some later turn of the loop
    assert result.backup_won and result.seconds >= 0.05
    assert hedger.samples == [pytest.approx(result.seconds - result.winner_after_s)]
    assert hedger.samples[0] < 0.05  # the backup's own time, not the primary's wait
    assert hedger.calls == 2  # a backup is a call: the budget is a share of all of them


async def test_a_short_run_has_one_backup_and_the_budget_grows_with_the_calls_made() -> None:
    short = Hedger(HedgeSettings(budget=0.05), planned_calls=10)
    assert short.may_hedge()  # 5% of 10 calls is none: one backup all the same
    short.hedges = 1
    assert not short.may_hedge()

    async def answer(n: int) -> Generation[SceneDraft]:
        return quick()

    hedger = Hedger(HedgeSettings(budget=0.1), planned_calls=10)
    for _ in range(30):  # retries make more calls than were planned
        await hedger.call(answer)
    hedger.hedges = 2
    assert hedger.may_hedge()  # 10% of the 30 calls made, not of the 10 planned
    hedger.hedges = 3
    assert not hedger.may_hedge()


def test_hung_first_calls_still_get_their_backups() -> None:
    """Scenes 1-3 hang, so a windowed(10) run is held up after 20 starts with 17 answers and
    3 hung calls: the 90th percentile of those is a hung call, and used to be its delay."""
    backend = HangingBackend(hang={1, 2, 3})
    req = ScriptRequest(
        idea="A heist",
        duration_s=320,
        strategy="windowed",
        concurrency=10,
        hedge=HedgeSettings(budget=0.2),
    )
    script = generate(req, backend, policy=fast_policy())
    for timing in script.meta.timeline[:3]:
        assert timing.hedged and timing.hedge_won
        assert timing.end_s - timing.start_s < SLOW  # the backup's answer, not the hang's


def test_over_http_the_losing_request_is_really_closed() -> None:
    """The real openai SDK to serve-sim: the hung primary's HTTP request is cancelled, and
    the server counts it, while the backup's answer is used."""
    from storygen.backends.config import BackendConfig
    from storygen.backends.openai_compat import OpenAIBackend
    from storygen.sim import RunningServer, SimServerConfig

    with RunningServer(SimServerConfig(time_scale=FAST, hang_rate=0.2)) as server:
        config = BackendConfig.build_config(
            kind="openai", base_url=server.url, model="storygen-sim-1", api_keys=["sk-test"]
        )
        script = generate(
            request(after_s=0.1, budget=1.0), OpenAIBackend(config), policy=fast_policy()
        )
        hedged = [t for t in script.meta.timeline if t.hedged]
        hung = [r for r in server.state.requests if r.hung and not r.hedge]
        assert hedged and hung
        assert all(t.end_s - t.start_s < 1.0 for t in hedged)  # a hang lasts ~0.5 s here
        # a hung primary whose backup did not hang lost, and the server saw it closed
        backups = {(r.call, r.attempt): r for r in server.state.requests if r.hedge}
        rescued = [r for r in hung if (b := backups.get((r.call, r.attempt))) and not b.hung]
        assert rescued and all(r.cancelled for r in rescued)
        assert server.state.cancelled >= len(rescued)
    assert [s.index for s in script.scenes] == list(range(1, 21))


def test_a_run_whose_every_call_hangs_ends_with_a_clear_error() -> None:
    """Hedging cannot save a provider that never answers: timeouts and retries end it."""
    from storygen import RunFailedError
    from storygen.backends.config import BackendConfig
    from storygen.backends.openai_compat import OpenAIBackend
    from storygen.sim import RunningServer, SimServerConfig

    with RunningServer(SimServerConfig(time_scale=1.0, hang_rate=1.0)) as server:
        config = BackendConfig.build_config(
            kind="openai",
            base_url=server.url,
            model="storygen-sim-1",
            api_keys=["sk-test"],
            timeout_s=0.3,
        )
        with pytest.raises(RunFailedError, match=r"timed out after 0.3 s") as info:
            generate(request(after_s=0.1, budget=1.0), OpenAIBackend(config), policy=fast_policy())
        assert info.value.scene_index is not None
        primaries = [r for r in server.state.requests if r.call == "scene1" and not r.hedge]
        assert [r.attempt for r in primaries] == [1, 2, 3, 4]  # retried, then given up


def test_a_hedged_run_resumes_after_a_kill_with_no_scene_twice(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "storygen", "generate", "--idea", "A storm", "--duration",
         "600", "--strategy", "windowed", "--batch-size", "4", "--time-scale", "0.01",
         "--hang-rate", "0.1", "--hedge-after", "0.05", "--hedge-budget", "1",
         "--runs-dir", str(runs), "--no-progress"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline:  # wait for a condition: hedged scenes on disk
        found = list(runs.glob("*/checkpoint.jsonl"))
        if found:
            text = found[0].read_text()
            lines = [json.loads(x) for x in text.splitlines() if x.endswith("}")]
            if len(lines) >= 10 and any(x["timing"]["hedged"] for x in lines):  # type: ignore[index]
                break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    (run,) = runs.iterdir()
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "resume", str(run), "--no-progress"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    indices = [
        json.loads(x)["scene"]["index"]
        for x in (run / "checkpoint.jsonl").read_text().splitlines()
        if x.endswith("}")
    ]
    assert sorted(indices) == list(range(1, 76))  # no scene twice, none missing
    script = json.loads((run / "script.json").read_text())
    assert script["request"]["hedge"]["after_s"] == 0.05  # resume kept the hedging
    assert any(t["hedged"] for t in script["meta"]["timeline"])


def test_the_cli_hedges_by_default_and_says_so(tmp_path: Path) -> None:
    from storygen.cli.main import main

    args = ["generate", "--idea", "A heist", "--duration", "600", "--strategy", "windowed",
            "--batch-size", "10", "--time-scale", "0.0125", "--hang-rate", "0.03",
            "--no-progress"]  # fmt: skip
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--runs-dir", str(tmp_path / "on")]) == 0
    (run,) = (tmp_path / "on").iterdir()
    saved = json.loads((run / "request.json").read_text())
    assert saved["hedge"] == {"after_s": None, "budget": 0.05}
    assert "hung calls hedged" in out.getvalue()

    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--no-hedge", "--runs-dir", str(tmp_path / "off")]) == 0
    (run,) = (tmp_path / "off").iterdir()
    assert json.loads((run / "request.json").read_text())["hedge"] is None
    assert main([*args, "--no-hedge", "--hedge-after", "1"]) == 2
