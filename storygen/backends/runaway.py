"""Whether a streaming answer ran away: what a small model under a JSON grammar does.

Seen on llama-server: endless whitespace inside the grammar, or one phrase repeated,
until max_tokens or the client's timeout, up to three attempts a scene. Streamed, such an
answer shows itself within a few dozen tokens; cut there, it costs a retry, not a timeout.
The thresholds sit far from any honest answer: a pretty-printer indents by a few spaces,
and prose does not repeat one phrase a dozen times in a row.
"""

from __future__ import annotations

WHITESPACE_RUN = 64  # whitespace characters in a row
LOOP_UNIT = 80  # the longest unit a loop repeats, characters
LOOP_SPAN = 240  # a loop is cut once it covers this many characters...
LOOP_REPEATS = 3  # ...and at least this many repeats of its unit
SIZE_FACTOR = 3.0  # an answer beyond 3x its expected size
_CHECK_EVERY = 32  # characters between two loop checks: the check looks back LOOP_SPAN
_TAIL = LOOP_SPAN + LOOP_UNIT


class RunawayWatch:
    """Fed a streamed answer as it grows; ``feed`` says why it ran away, or None."""

    def __init__(self, expected_tokens: int) -> None:
        self.expected_tokens = expected_tokens
        self._tail = ""  # the last characters, enough to see a loop
        self._chars = 0  # of the answer, after a leading <think> block
        self._deltas = 0
        self._thinking: bool | None = None  # in a leading <think> block; None: not known yet
        self._blank = 0  # whitespace characters at the end, in a row
        self._seen = 0  # every character, thoughts too
        self._checked_at = 0

    @property
    def tokens(self) -> int:
        """Tokens so far: a streaming server sends about one a chunk, some several; about
        four characters a token (core.prompts.estimate_tokens)."""
        return max(self._deltas, (self._chars + 3) // 4)

    def feed(self, delta: str) -> str | None:
        if not delta:
            return None
        self._tail = (self._tail + delta)[-_TAIL:]
        self._seen += len(delta)
        if self._thinks():  # a reasoning model's thoughts are not the answer's size
            self._deltas = self._chars = 0
        else:
            self._deltas += 1
            self._chars += len(delta)
        stripped = delta.rstrip()
        self._blank = len(delta) - len(stripped) + (0 if stripped else self._blank)
        if self._blank >= WHITESPACE_RUN:
            return f"{self._blank} whitespace characters in a row"
        if self.tokens > SIZE_FACTOR * self.expected_tokens:
            return (
                f"{self.tokens} tokens, more than {SIZE_FACTOR:g}x the {self.expected_tokens} "
                "expected"
            )
        if self._seen - self._checked_at >= _CHECK_EVERY:
            self._checked_at = self._seen
            return _loop(self._tail)
        return None

    def _thinks(self) -> bool:
        if self._thinking is None:
            head = self._tail.lstrip()[:7].lower()
            if head == "<think>":
                self._thinking = True
            elif head and not "<think>".startswith(head):
                self._thinking = False
        if self._thinking and "</think>" in self._tail.lower():
            self._thinking = False
        return bool(self._thinking)


def _loop(tail: str) -> str | None:
    """The tail is one unit of at most LOOP_UNIT characters repeated over LOOP_SPAN."""
    for size in range(1, LOOP_UNIT + 1):
        span = max(LOOP_SPAN, LOOP_REPEATS * size)
        if len(tail) < span or tail[-1] != tail[-1 - size]:
            continue
        # periodic with period ``size`` over the last ``span`` characters
        if tail[-span + size :] == tail[-span:-size]:
            unit = tail[-size:]
            return f"it repeated {unit.strip()[:40]!r} {span // size} times in a row"
    return None


def runaway_feedback(reason: str, expected_tokens: int) -> str:
    """The retry's feedback: what went wrong and what a good answer looks like."""
    return (
        f"your previous answer ran away: {reason}; answer with the JSON object only, "
        f"at most {expected_tokens} tokens, no padding"
    )
