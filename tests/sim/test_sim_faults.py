"""The simulated world hedging and adaptive concurrency are tested against: hung calls,
backup calls with their own draws, a server with C slots, and a serve-sim that notices
when a client gives up on a request."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from conftest import serve_sim_command

from storygen import RunStore, SceneTask, ScriptRequest, SimulatedBackend
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.backends.simulated import Slots, draw_hang, draw_latency
from storygen.cli.main import main
from storygen.core.errors import InvalidRequestError
from storygen.runner.runs import backend_from_settings
from storygen.sim import RunningServer, SimServerConfig

KEY = "sk-test-0123456789abcdef"
REQUEST = ScriptRequest(idea="A lighthouse keeper finds a map to a drowned city", duration_s=600)


def task(k: int) -> SceneTask:
    return SceneTask(REQUEST, k, 75, 8.0)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for something another task or thread will do, failing after a bounded time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition did not come true in time")
        await asyncio.sleep(0.002)


# --- the hang fault --------------------------------------------------------------------


def test_hangs_are_drawn_per_seed_call_and_attempt_and_take_h_times_the_median() -> None:
    """About p of the calls hang, always the same ones for the same (seed, call, attempt),
    each for exactly H x the median; the other calls keep their lognormal draw, so a run
    with hangs meets the same latencies as one without, plus the hangs."""

    def draws(seed: int = 0, attempt: int = 1) -> list[float]:
        return [
            draw_latency(seed, f"scene{k}", attempt, 8.0, 0.35, hang_rate=0.02, hang_factor=30)
            for k in range(5000)
        ]

    first = draws()
    hung = {k for k, d in enumerate(first) if d == 30 * 8.0}
    assert 70 <= len(hung) <= 130  # 2% of 5000 is 100
    assert draws() == first
    plain = [draw_latency(0, f"scene{k}", 1, 8.0, 0.35) for k in range(5000)]
    assert all(first[k] == plain[k] for k in range(5000) if k not in hung)
    assert max(plain) < 30 * 8.0  # so a latency of 240 s is a hang and nothing else
    # a retry or another seed meets other hangs: a hung call is not hung again
    for other in (draws(attempt=2), draws(seed=1)):
        again = {k for k, d in enumerate(other) if d == 30 * 8.0}
        assert 70 <= len(again) <= 130 and len(again & hung) < 10


def test_the_simulated_backend_plays_hangs_and_a_backup_draws_its_own_latency() -> None:
    """A backup (hedge=1) of the same scene and attempt draws its own latency and its own
    hang, deterministically, so the backup of a hung call is normally not hung."""
    scale = 0.0005  # a median call of 4 ms, a hang of 40 ms

    async def run() -> SimulatedBackend:
        backend = SimulatedBackend(time_scale=scale, hang_rate=0.2, hang_factor=10)
        await asyncio.gather(
            *(
                backend.write_scene(task(k), attempt=1, hedge=h)
                for k in range(1, 31)
                for h in (0, 1)
            )
        )
        return backend

    backend, again = asyncio.run(run()), asyncio.run(run())
    calls = {(c.call, c.hedge): c for c in backend.served}
    assert len(calls) == 60 and all(c.outcome == "ok" for c in calls.values())

    def drawn(b: SimulatedBackend) -> set[tuple[str, int, float, bool]]:
        return {(c.call, c.hedge, c.service_s, c.hung) for c in b.served}

    assert drawn(backend) == drawn(again)  # the same draws, whatever order they came in
    for k in range(1, 31):
        primary, backup = calls[f"scene{k}", 0], calls[f"scene{k}", 1]
        assert primary.service_s != backup.service_s or (primary.hung and backup.hung)
        for c in (primary, backup):
            assert (c.service_s == pytest.approx(10 * 8.0 * scale)) == c.hung
    hung = {c.call for c in calls.values() if c.hung and c.hedge == 0}
    hung_backups = {c.call for c in calls.values() if c.hung and c.hedge == 1}
    assert 2 <= len(hung) <= 12 and 2 <= len(hung_backups) <= 12
    assert hung != hung_backups


def test_hang_settings_are_validated_with_the_allowed_range() -> None:
    with pytest.raises(InvalidRequestError, match=r"hang_rate must be between 0 and 1"):
        SimulatedBackend(hang_rate=1.5)
    with pytest.raises(InvalidRequestError, match=r"hang_factor must be between 1 and 1000"):
        SimulatedBackend(hang_factor=0.5)
    with pytest.raises(InvalidRequestError, match=r"capacity must be between 1 and"):
        SimulatedBackend(capacity=0)
    with pytest.raises(InvalidRequestError, match=r"^hang_rate: .*\(allowed: 0 to 1") as info:
        BackendConfig.build_config(kind="simulated", hang_rate=2)
    assert info.value.field == "hang_rate"
    with pytest.raises(InvalidRequestError, match=r"^hang_factor: .*\(allowed: 1 to 1000"):
        BackendConfig.build_config(kind="simulated", hang_factor=5000)
    with pytest.raises(InvalidRequestError, match=r"^capacity: .*\(allowed: 1 to 10000"):
        BackendConfig.build_config(kind="simulated", capacity=0)
    for bad in ({"hang_rate": -0.1}, {"hang_factor": 0.0}, {"capacity": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SimServerConfig(**bad)  # type: ignore[arg-type]


# --- a server with C slots -------------------------------------------------------------


def test_capacity_serves_at_most_c_at_once_and_the_queue_wait_grows_with_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight calls of 16 ms on 2 slots: two are served at once, the rest wait first come,
    first served, the i-th call at least (i // 2) service times; the latency a client sees
    is that wait plus the service.

    Read from the order of events, not from microseconds: which call got a slot when, on the
    loop's clock. Calls that queue together are released within microseconds of each other,
    in either order; a call's slot, though, is never free before the call two places ahead
    of it has slept its whole service, whatever else the machine is doing."""
    service = 8.0 * 0.002
    granted: list[tuple[str, float]] = []  # (call, loop time), as the server hands out slots
    in_service = [0, 0]  # now, most

    async def run() -> tuple[SimulatedBackend, list[float]]:
        backend = SimulatedBackend(time_scale=0.002, sigma=0.0, capacity=2)
        slots = backend.slots
        assert slots is not None
        acquire, release = slots.acquire, slots.release

        async def recorded_acquire() -> bool:
            waited = await acquire()
            call = asyncio.current_task()
            assert call is not None
            granted.append((call.get_name(), time.monotonic()))
            in_service[0] += 1
            in_service[1] = max(in_service)
            return waited

        def recorded_release() -> None:
            in_service[0] -= 1
            release()

        monkeypatch.setattr(slots, "acquire", recorded_acquire)
        monkeypatch.setattr(slots, "release", recorded_release)
        calls = [
            asyncio.create_task(backend.write_scene(task(k), attempt=1), name=f"scene{k}")
            for k in range(1, 9)
        ]
        answers = await asyncio.gather(*calls)
        return backend, [a.latency_s or 0.0 for a in answers]

    backend, latencies = asyncio.run(run())
    assert backend.slots is not None and backend.slots.peak == 2 and backend.slots.busy == 0
    assert in_service == [0, 2]  # never more than C at once, and C were
    arrived = [c.call for c in backend.served]
    assert arrived == [f"scene{k}" for k in range(1, 9)]
    assert [name for name, _ in granted] == arrived  # first come, first served
    waits = [c.queued_s for c in backend.served]  # in arrival order
    assert waits[:2] == [0.0, 0.0]  # only the first C did not queue
    assert all(w > 0 for w in waits[2:])
    starts = [at for _, at in granted]
    for i in range(2, 8):  # the slot was freed by the call two ahead, after its full service
        assert starts[i] - starts[i - 2] >= service - 1e-6
    assert latencies == pytest.approx([w + service for w in waits])
    assert backend.settings()["capacity"] == 2


def test_without_a_capacity_no_call_waits() -> None:
    async def run() -> SimulatedBackend:
        backend = SimulatedBackend(time_scale=0.002, sigma=0.0)
        await asyncio.gather(*(backend.write_scene(task(k), attempt=1) for k in range(1, 9)))
        return backend

    backend = asyncio.run(run())
    assert backend.slots is None and [c.queued_s for c in backend.served] == [0.0] * 8


def test_a_cancelled_call_frees_its_slot_whether_served_or_queued() -> None:
    """The engine cancels a hedge's loser, which may be in service or still queued: it
    must leave the server as it found it, or capacity would shrink with every hedge."""

    hangs = [draw_hang(REQUEST.seed, f"scene{k}", 1, 0.5) for k in range(1, 50)]
    k_hung, k_quick = 1 + hangs.index(True), 1 + hangs.index(False)

    async def run() -> SimulatedBackend:
        backend = SimulatedBackend(time_scale=0.002, capacity=1, hang_rate=0.5, hang_factor=500)
        hung = asyncio.create_task(backend.write_scene(task(k_hung), attempt=1))  # 8 s
        queued = asyncio.create_task(backend.write_scene(task(k_hung), attempt=2))
        assert backend.slots is not None
        slots = backend.slots
        await until(lambda: slots.busy == 1 and slots.queued == 1)
        last = asyncio.create_task(backend.write_scene(task(k_quick), attempt=1))
        await until(lambda: slots.queued == 2)
        hung.cancel()  # its slot is freed while the queued call is being cancelled too
        queued.cancel()
        await asyncio.wait_for(last, timeout=5)
        ended = await asyncio.gather(hung, queued, return_exceptions=True)
        assert all(isinstance(e, asyncio.CancelledError) for e in ended)
        return backend

    backend = asyncio.run(run())
    assert [c.outcome for c in backend.served] == ["cancelled", "cancelled", "ok"]
    assert backend.served[0].hung and not backend.served[2].hung
    assert backend.cancelled == 2
    assert backend.slots is not None and backend.slots.busy == 0 and backend.slots.queued == 0


async def test_a_slot_handed_to_a_waiter_cancelled_before_it_ran_is_passed_on() -> None:
    """The narrow race of cancellation: the slot was handed over, but the waiter was
    cancelled before it could use it. The slot must go to the next in line."""
    slots = Slots(1)
    assert await slots.acquire() is False
    unlucky = asyncio.create_task(slots.acquire())
    await until(lambda: slots.queued == 1)
    slots.release()  # hands the slot to ``unlucky``...
    unlucky.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(unlucky, return_exceptions=True)
    assert slots.busy == 0
    assert await asyncio.wait_for(slots.acquire(), timeout=1) is False  # no wait: it is free


# --- serve-sim over HTTP, with the real openai SDK -------------------------------------


def openai_backend(server: RunningServer) -> OpenAIBackend:
    config = BackendConfig.build_config(
        kind="openai", base_url=server.url, model="storygen-sim-1", api_keys=[KEY]
    )
    return OpenAIBackend(config)


def stats(server: RunningServer) -> dict[str, object]:
    data: dict[str, object] = httpx.get(f"http://{server.host}:{server.port}/sim/stats").json()
    return data


def over_http(backend: OpenAIBackend, body: Callable[[], Awaitable[None]]) -> None:
    async def run() -> None:
        try:
            await body()
        finally:
            await backend.aclose()

    asyncio.run(run())


def test_serve_sim_counts_a_hung_call_the_client_cancelled(
    serve: Callable[..., RunningServer],
) -> None:
    """Cancelling the client's task closes its HTTP request; the server notices at once,
    stops serving the 80 s hang and counts the request as cancelled."""
    server = serve(time_scale=0.01, hang_rate=1.0, hang_factor=1000, capacity=4)
    backend = openai_backend(server)

    async def body() -> None:
        call = asyncio.create_task(backend.write_scene(task(3), attempt=1))
        await until(lambda: server.state.in_service == 1)
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        await until(lambda: server.state.cancelled == 1)
        await until(lambda: server.state.in_service == 0)

    over_http(backend, body)
    seen = stats(server)
    assert seen["cancelled"] == 1 and seen["hung"] == 1 and seen["requests"] == 1
    [request] = server.state.requests
    assert request.cancelled and request.hung and request.call == "scene3"
    assert request.service_s == pytest.approx(1000 * 8.0 * 0.01)


def test_the_hedge_header_gives_a_backup_its_own_draw_over_http(
    serve: Callable[..., RunningServer],
) -> None:
    """The OpenAI backend marks a backup with X-Storygen-Hedge; serve-sim then draws the
    backup's latency and hang apart from the primary's, exactly as the simulated backend
    does in-process, so a comparison over HTTP meets the same world."""
    scale, rate, factor = 0.002, 0.3, 3.0
    server = serve(time_scale=scale, hang_rate=rate, hang_factor=factor)
    backend = openai_backend(server)

    async def body() -> None:
        await asyncio.gather(
            *(
                backend.write_scene(task(k), attempt=1, hedge=h)
                for k in range(1, 13)
                for h in (0, 1)
            )
        )

    over_http(backend, body)
    in_process = SimulatedBackend(time_scale=scale, hang_rate=rate, hang_factor=factor)
    seen = {(r.call, r.hedge): r for r in server.state.requests}
    assert len(seen) == 24 and all(r.status == 200 for r in seen.values())
    for k in range(1, 13):
        primary, backup = seen[f"scene{k}", 0], seen[f"scene{k}", 1]
        assert primary.service_s != backup.service_s or (primary.hung and backup.hung)
        assert primary.service_s == pytest.approx(in_process.latency(REQUEST.seed, f"scene{k}", 1))
        assert backup.service_s == pytest.approx(
            in_process.latency(REQUEST.seed, f"scene{k}", 1, hedge=1)
        )
    hung = {call for (call, hedge), r in seen.items() if r.hung and hedge == 0}
    hung_backups = {call for (call, hedge), r in seen.items() if r.hung and hedge == 1}
    assert hung and hung_backups and hung != hung_backups
    assert stats(server)["hedged"] == 12


def test_serve_sim_serves_at_most_capacity_requests_at_once(
    serve: Callable[..., RunningServer],
) -> None:
    """Six requests of 80 ms on a server with 2 slots: all six are in flight, two are
    served at a time and the others queue."""
    server = serve(time_scale=0.01, sigma=0.0, capacity=2)
    backend = openai_backend(server)

    async def body() -> None:
        await asyncio.gather(*(backend.write_scene(task(k), attempt=1) for k in range(1, 7)))

    over_http(backend, body)
    seen = stats(server)
    assert seen["max_in_service"] == 2 and seen["capacity"] == 2
    assert isinstance(seen["queued"], int) and seen["queued"] >= 1
    assert all(r.status == 200 for r in server.state.requests)
    assert max(r.queued_s for r in server.state.requests) > 0


# --- the CLI ---------------------------------------------------------------------------


def test_generate_takes_the_hang_and_capacity_flags_and_a_resume_keeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["generate", "--idea", "A heist in a library", "--duration", "40", "--time-scale",
         "0.002", "--hang-rate", "0.5", "--hang-factor", "2", "--capacity", "3",
         "--runs-dir", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    [run] = list(RunStore(tmp_path))
    saved = run.backend_settings()
    assert (saved["hang_rate"], saved["hang_factor"], saved["capacity"]) == (0.5, 2.0, 3)
    rebuilt = backend_from_settings(saved)  # what resume runs on
    assert isinstance(rebuilt, SimulatedBackend)
    assert (rebuilt.hang_rate, rebuilt.hang_factor) == (0.5, 2.0)
    assert rebuilt.slots is not None and rebuilt.slots.size == 3


@pytest.mark.parametrize(
    ("flag", "value"), [("--hang-rate", "0.1"), ("--hang-factor", "30"), ("--capacity", "8")]
)
def test_the_simulated_server_flags_are_refused_with_the_openai_backend(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--idea", "x", "--duration", "80", "--runs-dir", str(tmp_path)]
    code = main([*argv, "--backend", "openai", flag, value])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {flag} applies to the simulated backend only, not --backend openai\n"
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--hang-rate", "1.5"], "--hang-rate must be between 0 and 1 (got 1.5)"),
        (["--hang-factor", "0.5"], "--hang-factor must be between 1 and 1000 (got 0.5)"),
        (["--capacity", "0"], "--capacity must be between 1 and 10000 (got 0)"),
    ],
)
def test_serve_sim_refuses_a_bad_hang_or_capacity_in_one_line(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve-sim", *args]) == 2
    assert capsys.readouterr().err == f"error: {said}\n"


def test_serve_sim_command_serves_with_the_hang_and_capacity_flags() -> None:
    flags = ["--hang-rate", "0.25", "--hang-factor", "40", "--capacity", "8"]
    with serve_sim_command(*flags) as url, urllib.request.urlopen(f"{url}/sim/stats") as r:
        seen = json.loads(r.read())
    assert (seen["hang_rate"], seen["hang_factor"], seen["capacity"]) == (0.25, 40.0, 8)
    assert seen["cancelled"] == 0 and seen["hedged"] == 0
