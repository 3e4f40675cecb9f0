"""The embedded simulated LLM: no key, no network, realistic latencies and faults.

Latencies are drawn from (seed, call, attempt) alone, so every strategy meets the
same latencies and their comparison is fair (common random numbers). A backup
("hedged") call draws from its own key, so the backup of a hung call is normally not
hung. With a ``capacity`` the simulated server serves at most that many calls at once,
like a local llama.cpp or vLLM with C slots; the others queue first come, first served.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from storygen.backends.simulated_text import write_answer
from storygen.core import bounds
from storygen.core.bounds import Bound
from storygen.core.errors import (
    InvalidRequestError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from storygen.core.models import Bible, Outline, SceneDraft, ScriptRequest
from storygen.core.prompts import (
    SYSTEM,
    bible_prompt,
    estimate_tokens,
    outline_prompt,
    parse_prompt,
    scene_prompt,
)
from storygen.core.tasks import Generation, SceneTask, StreamEvents

SIM_MODEL = "storygen-sim-1"
_Answer = TypeVar("_Answer", Outline, Bible, SceneDraft)
HANG_FACTOR = 30.0


def _check(name: str, value: float, bound: Bound) -> None:
    if value not in bound or math.isnan(value):
        raise InvalidRequestError(
            f"{name} must be between {bound.low:g} and {bound.high:g} (got {value})", name
        )


def hedge_key(call: str, hedge: int = 0) -> str:
    """The key a call's draws come from: a backup ("scene3#hedge1") draws its own."""
    return call if hedge == 0 else f"{call}#hedge{hedge}"


def draw_hang(seed: int, call: str, attempt: int, hang_rate: float) -> bool:
    """Whether this call hangs, keyed on (seed, call, attempt) apart from its latency."""
    return hang_rate > 0 and random.Random(f"{seed}:{call}:{attempt}:hang").random() < hang_rate


def draw_latency(
    seed: int,
    call: str,
    attempt: int,
    median_s: float = 8.0,
    sigma: float = 0.35,
    hang_rate: float = 0.0,
    hang_factor: float = HANG_FACTOR,
) -> float:
    """Lognormal call latency in unscaled seconds, keyed on (seed, call, attempt); a hung
    call takes ``hang_factor`` x the median instead."""
    rng = random.Random(f"{seed}:{call}:{attempt}")
    latency = median_s * math.exp(sigma * rng.gauss(0.0, 1.0))
    return hang_factor * median_s if draw_hang(seed, call, attempt, hang_rate) else latency


FIRST_TOKEN_SHARE = 0.1  # a call's time before its first token, as a share of the call


def first_token_share(seed: int, call: str, attempt: int) -> float:
    """The share of a call's latency spent before its first token: about 10%, drawn from
    (seed, call, attempt) apart from the latency itself, so every strategy meets the same.
    The rest of the answer streams at an even rate, field by field in schema order."""
    rng = random.Random(f"{seed}:{call}:{attempt}:first-token")
    return min(0.5, max(0.02, FIRST_TOKEN_SHARE * math.exp(0.3 * rng.gauss(0.0, 1.0))))


def summary_share(content: str) -> float:
    """How far into an answer's text its summary is complete (the summary is the scene
    schema's first field): the share of the streamed characters written by then."""
    end = content.find('",', content.find('"summary"'))
    return (end + 1) / len(content) if end > 0 else 1.0


class Slots:
    """``size`` service slots handed out first come, first served; not bound to one event
    loop, so a backend can serve run after run.

    A waiter cancelled in the queue leaves it; one cancelled just as a slot was handed to
    it passes the slot on, so cancellation never leaks a slot.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self.peak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return sum(not w.done() for w in self._waiters)

    async def acquire(self) -> bool:
        """Wait for a slot; True if the call had to queue for it."""
        waited = not (self.busy < self.size and not self.queued)
        if not waited:
            self.busy += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # release() hands its slot over: busy stays the same
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self.release()
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        self.peak = max(self.peak, self.busy)
        return waited

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy -= 1


Outcome = Literal["running", "ok", "error", "cancelled"]


@dataclass
class SimCall:
    """One call as the simulated server served it; times are scaled seconds."""

    call: str  # "outline" or "scene3"
    attempt: int
    hedge: int  # 0: the primary call, 1: its backup
    queued_s: float = 0.0  # waiting for a free slot (only with a capacity)
    service_s: float = 0.0  # the drawn latency (half of it for a 503), once a slot was free
    hung: bool = False
    outcome: Outcome = "running"


Mark = tuple[float, Callable[[], None]]  # (share of the drawn latency, what is then told)


class SimulatedBackend:
    """Writes from a template grammar; waits ``latency x time_scale`` per call. Streamed
    when the engine needs the summary early (pipelined): the same time, told in parts."""

    name = "simulated"
    streams = True

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        median_s: float = 8.0,
        sigma: float = 0.35,
        error_rate: float = 0.0,
        rpm: int | None = None,
        hang_rate: float = 0.0,
        hang_factor: float = HANG_FACTOR,
        capacity: int | None = None,
        fail_scenes: Iterable[int] = (),
        model: str = SIM_MODEL,
    ) -> None:
        _check("time_scale", time_scale, bounds.TIME_SCALE)
        _check("median_s", median_s, Bound(0, 600))
        _check("sigma", sigma, Bound(0, 3))
        _check("error_rate", error_rate, Bound(0, 0.9))
        _check("hang_rate", hang_rate, bounds.SHARE)
        _check("hang_factor", hang_factor, bounds.HANG_FACTOR)
        if rpm is not None:
            _check("rpm", rpm, Bound(1, 1_000_000))
        if capacity is not None:
            _check("capacity", capacity, bounds.CAPACITY)
        self.time_scale = time_scale
        self.median_s = median_s
        self.sigma = sigma
        self.error_rate = error_rate
        self.rpm = rpm
        self.hang_rate = hang_rate
        self.hang_factor = hang_factor
        # not named ``capacity``: that attribute means "keys x per-key concurrency" to
        # ``--batch-size auto`` on the OpenAI backend
        self.slots = Slots(capacity) if capacity is not None else None
        self.fail_scenes = frozenset(fail_scenes)
        self.model = model
        self._recent: deque[float] = deque()
        self.calls = 0
        self.served: list[SimCall] = []  # every admitted call, in arrival order

    def settings(self) -> dict[str, object]:
        """Permanent failures are a one-shot test fault and are deliberately not saved."""
        return {
            "kind": self.name,
            "model": self.model,
            "time_scale": self.time_scale,
            "median_s": self.median_s,
            "sigma": self.sigma,
            "error_rate": self.error_rate,
            "sim_rpm": self.rpm,
            "hang_rate": self.hang_rate,
            "hang_factor": self.hang_factor,
            "capacity": self.slots.size if self.slots else None,
        }

    @property
    def cancelled(self) -> int:
        """Calls whose caller gave up on them (a hedge's loser, a cancelled run)."""
        return sum(c.outcome == "cancelled" for c in self.served)

    def latency(self, seed: int, call: str, attempt: int, hedge: int = 0) -> float:
        """Scaled seconds this call will take once served (a hang included)."""
        drawn = draw_latency(
            seed,
            hedge_key(call, hedge),
            attempt,
            self.median_s,
            self.sigma,
            self.hang_rate,
            self.hang_factor,
        )
        return drawn * self.time_scale

    def _admit(self) -> None:
        """A sliding one-minute window (in simulated time) answering 429s with Retry-After."""
        self.calls += 1
        if self.rpm is None:
            return
        window = 60.0 * self.time_scale
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        if len(self._recent) >= self.rpm:
            wait = self._recent[0] + window - now
            raise RateLimitedError(
                f"rate limit of {self.rpm} requests per minute reached",
                retry_after=wait,
            )
        self._recent.append(now)

    async def _serve(
        self,
        seed: int,
        call: str,
        attempt: int,
        hedge: int,
        marks: Sequence[Mark] = (),
        arrived: float | None = None,
    ) -> float:
        """Admit, queue for a slot, serve; the answer's latency as the client sees it.
        ``marks``: what a streamed answer tells on the way, at shares of the drawn latency
        (a failing call stops halfway: what comes later is never told). ``arrived``: when
        the call came in, if its answer was written before it was served (a streamed one):
        writing is then part of its time, as on a real server."""
        self._admit()
        key = hedge_key(call, hedge)
        fault = (  # no draw when faults are off: thousands of calls a second in bulk runs
            self.error_rate > 0
            and random.Random(f"{seed}:{key}:{attempt}:fault").random() < self.error_rate
        )
        seen = SimCall(call, attempt, hedge, hung=draw_hang(seed, key, attempt, self.hang_rate))
        seen.service_s = self.latency(seed, call, attempt, hedge) * (0.5 if fault else 1.0)
        self.served.append(seen)
        came = time.monotonic() if arrived is None else arrived
        try:
            begun = came
            if self.slots is not None and await self.slots.acquire():
                begun = time.monotonic()
                seen.queued_s = begun - came
            try:
                whole = seen.service_s / (0.5 if fault else 1.0)
                await _stream(begun, seen.service_s, whole, marks)
            finally:
                if self.slots is not None:
                    self.slots.release()
        except asyncio.CancelledError:
            seen.outcome = "cancelled"
            raise
        if fault:
            seen.outcome = "error"
            raise TransientError(f"simulated server error (503) on {call}, attempt {attempt}")
        seen.outcome = "ok"
        return seen.queued_s + seen.service_s

    async def write_outline(
        self,
        request: ScriptRequest,
        total: int,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Outline]:
        delay = await self._serve(request.seed, "outline", attempt, hedge)
        return _written(Outline, outline_prompt(request, total), request.seed, attempt, delay)

    async def write_bible(
        self,
        request: ScriptRequest,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
    ) -> Generation[Bible]:
        delay = await self._serve(request.seed, "bible", attempt, hedge)
        return _written(Bible, bible_prompt(request), request.seed, attempt, delay)

    async def write_scene(
        self,
        task: SceneTask,
        *,
        attempt: int,
        feedback: str | None = None,
        hedge: int = 0,
        events: StreamEvents | None = None,
    ) -> Generation[SceneDraft]:
        if task.index in self.fail_scenes:
            self._admit()
            raise PermanentError(f"simulated permanent failure of scene {task.index}")
        seed, call, prompt = task.request.seed, f"scene{task.index}", scene_prompt(task)
        if events is None or not events.needed:
            delay = await self._serve(seed, call, attempt, hedge)
            return _written(SceneDraft, prompt, seed, attempt, delay)
        arrived = time.monotonic()
        written = _written(SceneDraft, prompt, seed, attempt, 0.0)  # known before it streams
        first = first_token_share(seed, hedge_key(call, hedge), attempt)
        told = first + (1 - first) * summary_share(written.value.model_dump_json())
        summary = written.value.summary
        marks = ((first, events.first_token), (told, lambda: events.summary(summary)))
        delay = await self._serve(seed, call, attempt, hedge, marks, arrived)
        return replace(written, latency_s=delay)


async def _stream(begun: float, seconds: float, whole: float, marks: Sequence[Mark]) -> None:
    """Serve until ``seconds`` after ``begun`` (time.monotonic), telling each mark when its
    share of ``whole`` (the drawn latency) has passed; deadlines, so no lateness adds up."""
    for share, tell in marks:
        at = share * whole
        if at >= seconds:
            break
        await asyncio.sleep(max(0.0, begun + at - time.monotonic()))
        tell()
    await asyncio.sleep(max(0.0, begun + seconds - time.monotonic()))


def _written(
    kind: type[_Answer], prompt: str, seed: int, attempt: int, delay: float
) -> Generation[_Answer]:
    """The answer to ``prompt`` as serve-sim writes it: from the prompt's text alone (and
    this call's own draw), never from the request or the task behind it."""
    call = parse_prompt(prompt, seed)
    assert call is not None, "every storygen prompt reads back"
    answer = write_answer(call, attempt)
    assert isinstance(answer, kind)
    return Generation(
        answer,
        prompt_tokens=estimate_tokens(SYSTEM) + estimate_tokens(prompt),
        completion_tokens=estimate_tokens(answer.model_dump_json()),
        latency_s=delay,
    )
