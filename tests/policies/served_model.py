"""A server model on a virtual clock, to drive the adaptive controller without sleeping.

Calls draw their work (lognormal, seeded) and are served by one of three servers: every
call at full speed (``free``), C slots each at full speed with a queue beyond (``slots``),
or C slots sharing one compute whose total speed is min(n, gain) (``shared``, processor
sharing, as llama.cpp on a laptop CPU). A client keeps as many calls in flight as the
controller allows, as a windowed run does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from storygen.core.models import AdaptiveSettings
from storygen.policies.adaptive import Controller

Kind = Literal["free", "slots", "shared"]


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _Call:
    ticket: int
    started: float
    work: float  # seconds of service at full speed


@dataclass
class Served:
    """What a run on the model did: answers per second, and the limit over time."""

    answers: int
    seconds: float
    limits: list[int] = field(default_factory=list)  # the limit at each answer

    @property
    def throughput(self) -> float:
        return self.answers / self.seconds

    @property
    def settled(self) -> float:
        late = sorted(self.limits[len(self.limits) // 2 :])
        return float(late[len(late) // 2])


def speed(kind: Kind, in_service: int, gain: float) -> float:
    """Each call's share of a full-speed call's progress per second."""
    if kind == "shared":
        return min(in_service, gain) / in_service
    return 1.0


def serve(
    kind: Kind,
    *,
    calls: int = 300,
    capacity: int = 8,
    gain: float = 1.5,
    median: float = 0.1,
    sigma: float = 0.35,
    seed: int = 0,
    fixed: int | None = None,
    controller: Controller | None = None,
) -> Served:
    """Run ``calls`` calls at a fixed concurrency or under ``controller`` (whose clock must
    be the model's: pass ``controller_for(clock)``'s)."""
    rng = random.Random(seed)
    clock = getattr(controller, "_clock", None) or VirtualClock()
    assert isinstance(clock, VirtualClock)
    started = answered = 0
    queue: list[_Call] = []
    service: list[_Call] = []
    limits: list[int] = []
    t0 = clock.now

    def allowed() -> int:
        return fixed if fixed is not None else controller.current() if controller else 1

    def admit() -> None:
        nonlocal started
        while started < calls and len(queue) + len(service) < allowed():
            started += 1
            ticket = controller.ticket() if controller else started
            work = median * rng.lognormvariate(0.0, sigma)
            queue.append(_Call(ticket, clock.now, work))
        while queue and (kind == "free" or len(service) < capacity):
            service.append(queue.pop(0))

    admit()
    while service:
        rate = speed(kind, len(service), gain)
        first = min(service, key=lambda c: c.work)
        step = first.work / rate
        clock.now += step
        for c in service:
            c.work -= step * rate
        service.remove(first)
        answered += 1
        if controller is not None:
            controller.on_answer(clock.now - first.started, first.ticket)
            limits.append(controller.current())
        admit()
    return Served(answered, clock.now - t0, limits)


def controller_for(most: int = 32, start: int = 2) -> Controller:
    c = Controller(AdaptiveSettings(start=start), most, clock=VirtualClock())
    c.start()
    return c
