"""The fault an attempt plays, scripted or drawn, and what a runaway answer writes.

Drawn faults come from (seed, call, attempt), so the same run meets the same faults. The
mid-stream faults strike after a share of the answer's text: "cut:0.6" says where, a bare
"cut" draws it. Small models under a JSON grammar run away: whitespace ("runaway") or a
phrase ("loop") over and over until max_tokens.
"""

from __future__ import annotations

import random

from storygen.core.prompts import estimate_tokens
from storygen.sim.config import SimServerConfig

# Faults that strike while an answer streams (a plain answer plays its nearest kin).
MID_STREAM = ("cut", "stall", "badchunk", "runaway", "loop")
# What a runaway answer repeats.
FILLER = {"runaway": "   \n  ", "loop": "and the light, "}
# The tokens a runaway runs to when the request set no max_tokens.
RUNAWAY_CAP = 2048


def kind(fault: str) -> str:
    """The fault's name without its argument: "cut:0.6" -> "cut", "429:2" -> "429"."""
    return fault.partition(":")[0]


def draw_fault(
    config: SimServerConfig, seed: int, call: str, attempt: int, streamed: bool = False
) -> str:
    """The fault this attempt plays: scripted if the config says so, else drawn. A streamed
    call may also run away (``runaway_rate``), drawn apart from the other faults."""
    script = config.script.get(call)
    if script is not None and attempt <= len(script):
        return script[attempt - 1]
    rng = random.Random(f"{seed}:{call}:{attempt}:server")
    for name, rate in (("500", config.error_rate), ("malformed", config.malformed_rate)):
        if rng.random() < rate:
            return name
    fault = "timeout" if rng.random() < config.slow_rate else "ok"
    if fault != "ok" or not streamed or config.runaway_rate <= 0:
        return fault
    runaway = random.Random(f"{seed}:{call}:{attempt}:runaway").random()
    return "runaway" if runaway < config.runaway_rate else fault


def strike_share(fault: str, seed: int, call: str, attempt: int) -> float:
    """Where in the answer's text a mid-stream fault strikes: as scripted ("cut:0.6"),
    else drawn between a tenth and nine tenths."""
    arg = fault.partition(":")[2]
    if arg:
        return min(1.0, max(0.0, float(arg)))
    return random.Random(f"{seed}:{call}:{attempt}:strike").uniform(0.1, 0.9)


def runaway_cap(max_tokens: int | None) -> int:
    return max_tokens or RUNAWAY_CAP


def run_away(content: str, fault: str, cut: int, max_tokens: int | None) -> tuple[str, int]:
    """A runaway answer in one piece (what a plain call gets): the text up to ``cut``,
    then its filler until the token cap; and the cap, the completion tokens billed."""
    filler, cap = FILLER[kind(fault)], runaway_cap(max_tokens)
    head = content[:cut]
    repeats = max(0, cap - estimate_tokens(head)) // estimate_tokens(filler)
    return head + filler * repeats, cap
