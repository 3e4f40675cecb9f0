"""Throughput by concurrency level: whether more calls in flight still made the server
faster.

Latency inflation (Vegas) reads a queue well, but not a server whose slots share one
compute (llama.cpp on a laptop CPU): there two calls in flight each take 1.33x as long as
one, and yet the pair answers 1.5x as fast. What matters is throughput, so the controller
grows only while a level answers clearly faster than a level well below it, and holds where
that stopped.

A level's throughput is read from the calls that ran at it, by Little's law: n calls in
flight that take t each answer n / t a second (answers counted per round would mix the
levels before and after a change). And a
level whose calls did not slow down did answer faster, whatever the clock says: if its
answers did not come faster, the calls were not sent (a strategy waiting, a batch waiting
for its last), and the server is not what stopped them.
"""

from __future__ import annotations

import statistics
from typing import Literal

RISE = 1.1  # a level must answer this much faster than the level it is compared with
BELOW = 1.5  # compared with a level at most 1/BELOW of it: one a server that scales beats 1.5x
ENOUGH = 8  # calls answered at a level before it is judged not to rise
FEW = 2  # calls answered at a level before its throughput is read at all
KEEP = 64  # call times kept per level
HOLD = 8  # rounds held at a plateau before looking again; doubles each time it is confirmed

Verdict = Literal["rises", "flat", "unsure"]


def mean_level(trace: list[tuple[float, int]], since: float, until: float) -> float:
    """The limit over ``since``..``until``, weighted by time, from (time, limit) changes."""
    if not trace:
        return 0.0
    total, level, at = 0.0, trace[0][1], since
    for changed, limit in trace:
        if changed > at:
            if changed >= until:
                break
            total += level * (changed - at)
            at = changed
        level = limit
    total += level * (until - at)
    return total / (until - since) if until > since else float(level)


class LevelTimes:
    """Call times by the level (the limit) in force while each call ran: in slow start a
    call started at one level spends half its life at the next."""

    def __init__(self) -> None:
        self._times: dict[int, list[float]] = {}

    def answered(self, seconds: float, level: float) -> None:
        """A call that took ``seconds`` while ``level`` calls were allowed on average."""
        times = self._times.setdefault(max(1, round(level)), [])
        times.append(seconds)
        del times[:-KEEP]

    def forget(self, level: int) -> None:
        self._times.pop(level, None)

    def count(self, level: int) -> int:
        return len(self._times.get(level, ()))

    def rate(self, level: int) -> float:
        """Answers a second at ``level`` (Little's law: in flight / call time)."""
        return level / statistics.median(self._times[level])

    def verdict(self, level: int, patient: bool = False) -> tuple[Verdict, int | None]:
        """Whether ``level`` answers clearly faster than a level well below it (the
        highest one measured), and that level. A level that looks no faster but was
        measured briefly is "unsure": a false "flat" costs a run its speed, a false
        "rises" only a level too far, which the next verdict corrects. A ``patient``
        verdict (a plateau looked at again) is "unsure" either way until measured well."""
        lower = [n for n in self._times if n * BELOW <= level and self.count(n) >= FEW]
        ref = max(lower, default=None)
        if ref is None or self.count(level) < FEW:
            return "rises", ref  # nothing to compare yet: growing is how to find out
        if self.count(level) < ENOUGH and (patient or self.rate(level) <= RISE * self.rate(ref)):
            return "unsure", ref
        return ("rises" if self.rate(level) > RISE * self.rate(ref) else "flat"), ref

    def first_doubt(self, upto: int) -> tuple[Verdict, int, int] | None:
        """The lowest level up to ``upto`` that did not answer faster than its reference
        ("flat"; or ``upto`` itself "unsure", while measured briefly), with that
        reference."""
        for level in sorted(n for n in self._times if n <= upto):
            verdict, ref = self.verdict(level)
            # a lower level is not measured further while the limit is above it
            if ref is not None and (verdict == "flat" or (verdict == "unsure" and level == upto)):
                return verdict, level, ref
        return None


class PlateauSearch:
    """Where more calls in flight stopped paying, found and checked again now and then.

    Slow start runs on as before; once a level it passed shows no gain over a level well
    below it, the limit goes back to that lower level and holds. A verdict on a few calls
    can be wrong, so the flat level is measured afresh against the held one once that is
    measured well, and again after a while: still flat, hold twice as long; faster after
    all, growing goes on.
    """

    def __init__(self) -> None:
        self.times = LevelTimes()
        self.level: int | None = None  # the plateau: held, and reported
        self._flat = 0  # the level that did not answer faster than it
        self._probing = False
        self._held = 0
        self._hold_for = HOLD

    def next_level(self, level: int) -> int | None:
        """After a round at ``level``: None to grow as usual, else the level to be at."""
        if self._probing:
            verdict, _ = self.times.verdict(self._flat, patient=True)
            if verdict == "unsure":
                return level  # measuring the flat level again
            self._probing = False
            if verdict == "rises":
                self.level, self._hold_for = None, HOLD
                return None
            self._hold_for *= 2
            self._held = 0
            return self.level
        if self.level is not None and level >= self.level:
            self._held += 1
            if self._held < self._hold_for or self.times.count(self.level) < ENOUGH:
                return level
            self._probing = True  # look again: the flat level, measured afresh
            self.times.forget(self._flat)
            return self._flat
        doubt = self.times.first_doubt(level)
        if doubt is None:
            return None
        verdict, flat, ref = doubt
        if verdict == "unsure":
            return level  # no growing until that level is measured well
        self._flat, self.level, self._held = flat, ref, 0
        # the level held was passed in slow start, measured by a few calls: once it is
        # measured well, the flat level is looked at again at once
        self._hold_for = HOLD if self.times.count(ref) >= ENOUGH else 0
        return ref
