"""The allowed range of each number a user sets: one place, read by the models, the flags,
the bulk rows, serve-sim and the app, so that a limit cannot be raised in one of them only.

Messages quote ``low`` and ``high``; they are ints wherever the range allows, so that a
message reads "1 and 100", not "1.0 and 100.0".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    """An inclusive range: ``value in CAPACITY``."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


# Scheduling: a batch size or window, an adaptive run's most, a key's calls in flight.
CONCURRENCY = Bound(1, 100)
# A video's length, seconds.
DURATION_S = Bound(8, 7200)
# A bulk run's calls in flight across all scripts, and its scripts in progress at once.
IN_FLIGHT = Bound(1, 10_000)
# The simulated server's slots (calls served at once; more queue).
CAPACITY = Bound(1, 10_000)
# Simulated latency multiplier: 1 = real speed.
TIME_SCALE = Bound(0, 100)
# A hung call takes this many times the median latency.
HANG_FACTOR = Bound(1, 1000)
# serve-sim's compute-bound mode: how much faster n calls at once go in total than one
COMPUTE_GAIN = Bound(1, 1000)
# Shares of calls: hung calls, backups (the hedge budget).
SHARE = Bound(0, 1)
# A fixed hedge delay, seconds (exclusive of 0: ``gt``).
HEDGE_AFTER_S = Bound(0, 3600)
# serve-sim's Batch API: seconds from creating a batch to its completion, the 24 h window.
BATCH_DELAY_S = Bound(0, 86_400)
# An answer's max_tokens: what --max-tokens allows, and the most a cut-off answer's retry asks.
MAX_TOKENS = Bound(16, 32_000)
# bench --repeat.
REPEAT = Bound(1, 20)
