"""Each admission rule, worked out by hand on small states.

The run-level tests in test_strategies.py cannot see a rule that is looser than it should
be where the scheduler's own cap (``in_flight < concurrency``) or an always-finished
outline happens to cover for it; a rule is a public object that the ideal-makespan model
obeys too, so each one is pinned here on its own (mutation testing found these gaps).
"""

from __future__ import annotations

import pytest

from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest
from storygen.scheduling.strategies import (
    AdaptiveBatched,
    Batched,
    OutlineFirst,
    Progress,
    Sequential,
    Strategy,
    Windowed,
    strategy_for,
)


def P(prefix: int = 0, in_flight: int = 0, outline_done: bool = False) -> Progress:
    return Progress(prefix=prefix, in_flight=in_flight, outline_done=outline_done)


@pytest.mark.parametrize(
    ("k", "progress", "allowed"),
    [
        (1, P(), True),
        (2, P(prefix=0), False),  # scene 1 not done yet
        (2, P(prefix=1), True),
        (5, P(prefix=3), False),  # scene 4 not done yet
        (5, P(prefix=4), True),
        (5, P(prefix=7), True),  # a resumed run: later scenes were written before
    ],
)
def test_sequential_waits_for_every_earlier_scene(
    k: int, progress: Progress, allowed: bool
) -> None:
    assert Sequential().may_start(k, progress) is allowed


def test_sequential_quotes_every_earlier_scene_and_is_its_own_group() -> None:
    rule = Sequential()
    assert (rule.name, rule.concurrency, rule.needs_outline) == ("sequential", 1, False)
    assert [rule.context_upto(k, P(prefix=k - 1)) for k in (1, 2, 9)] == [0, 1, 8]
    assert [rule.group(k) for k in (1, 2, 9)] == [1, 2, 9]


@pytest.mark.parametrize(
    ("k", "progress", "allowed"),
    [
        (1, P(), True),
        (3, P(prefix=0, in_flight=2), True),  # same batch as scene 1: no wait
        (4, P(prefix=2), False),  # batch {4, 5, 6} waits for all of {1, 2, 3}
        (4, P(prefix=3), True),
        (6, P(prefix=3, in_flight=2), True),
        (7, P(prefix=5), False),
        (7, P(prefix=6), True),
    ],
)
def test_batched_waits_for_the_whole_previous_batch(
    k: int, progress: Progress, allowed: bool
) -> None:
    assert Batched(3).may_start(k, progress) is allowed


def test_batched_scenes_see_what_was_done_before_their_batch() -> None:
    rule = Batched(3)
    # every scene of a batch quotes the same scenes, however far the batch has got
    assert [rule.context_upto(k, P(prefix=5)) for k in range(1, 8)] == [0, 0, 0, 3, 3, 3, 6]
    assert [rule.group(k) for k in range(1, 8)] == [1, 1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize(
    ("k", "progress", "allowed"),
    [
        (1, P(), True),
        (3, P(prefix=1, in_flight=2), True),  # no barrier: 3 - A = 1 is done
        (3, P(prefix=1, in_flight=3), False),  # the window is full
        (4, P(prefix=1), False),  # scene 2 (= 4 - A) is not done
        (4, P(prefix=2), True),
        (9, P(prefix=7, in_flight=2), True),
    ],
)
def test_windowed_keeps_w_in_flight_and_waits_only_for_scenes_up_to_k_minus_a(
    k: int, progress: Progress, allowed: bool
) -> None:
    assert Windowed(3, lag_allowance=2).may_start(k, progress) is allowed


def test_windowed_quotes_the_done_prefix_but_never_itself_or_later_scenes() -> None:
    rule = Windowed(3, lag_allowance=2)
    assert rule.context_upto(5, P(prefix=3)) == 3
    assert rule.context_upto(3, P(prefix=7)) == 2  # resumed: 4..7 were written before
    assert [rule.group(k) for k in (1, 3, 4, 7)] == [1, 1, 2, 3]


@pytest.mark.parametrize(
    ("progress", "allowed"),
    [
        (P(outline_done=False), False),  # no scene before the plan
        (P(outline_done=False, prefix=4), False),
        (P(outline_done=True, in_flight=2), True),
        (P(outline_done=True, in_flight=3), False),  # W = 3 in flight
    ],
)
def test_outline_first_starts_scenes_only_after_the_outline_w_at_a_time(
    progress: Progress, allowed: bool
) -> None:
    assert OutlineFirst(3).may_start(5, progress) is allowed


def test_outline_first_scenes_quote_no_other_scene_and_group_by_window() -> None:
    rule = OutlineFirst(3)
    assert rule.needs_outline
    assert rule.context_upto(5, P(prefix=4, outline_done=True)) == 0
    assert [rule.group(k) for k in range(1, 8)] == [1, 1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"strategy": "sequential", "concurrency": 7}, Sequential()),
        ({"strategy": "batched", "concurrency": 7}, Batched(7)),
        ({"strategy": "windowed", "concurrency": 7}, Windowed(7, 14)),  # A = 2 x W
        ({"strategy": "windowed", "concurrency": 7, "lag_allowance": 3}, Windowed(7, 3)),
        ({"strategy": "outline", "concurrency": 7}, OutlineFirst(7)),
    ],
)
def test_a_request_gets_the_rule_it_names(changes: dict[str, object], expected: Strategy) -> None:
    request = ScriptRequest.model_validate({"idea": "A heist", "duration_s": 80, **changes})
    assert strategy_for(request) == expected


def test_a_request_that_skipped_validation_still_names_the_bad_field() -> None:
    request = ScriptRequest.model_construct(idea="A heist", duration_s=80, strategy="spiral")
    with pytest.raises(InvalidRequestError, match="unknown strategy 'spiral'") as caught:
        strategy_for(request)
    assert caught.value.field == "strategy"


def test_adaptive_batched_asks_the_size_once_per_batch_and_keeps_the_barrier() -> None:
    """Batch sizes 2, 3, then 9 capped at the largest batch (4), then 0 raised to 1."""
    asked: list[int] = []
    sizes = iter([2, 3, 9, 0])

    def size() -> int:
        asked.append(1)
        return next(sizes)

    rule = AdaptiveBatched(size, concurrency=4)
    assert (rule.name, rule.needs_outline) == ("batched", False)
    assert rule.may_start(1, P()) and rule.may_start(2, P(in_flight=1))  # batch {1, 2}
    assert not rule.may_start(3, P(prefix=1))  # the barrier: scene 2 still runs
    assert len(asked) == 1
    assert rule.may_start(3, P(prefix=2))  # batch {3, 4, 5} opens
    assert rule.may_start(5, P(prefix=2, in_flight=2))
    assert not rule.may_start(6, P(prefix=4))
    assert rule.may_start(6, P(prefix=5))  # batch {6, 7, 8, 9}
    assert rule.may_start(9, P(prefix=5, in_flight=3))
    assert not rule.may_start(10, P(prefix=8))
    assert rule.may_start(10, P(prefix=9))  # batch {10}
    assert not rule.may_start(11, P(prefix=9))
    assert len(asked) == 4
    assert (rule.starts, rule.ends) == ([1, 3, 6, 10], [3, 6, 10, 11])
    groups = [rule.group(k) for k in range(1, 11)]
    assert groups == [1, 1, 2, 2, 2, 3, 3, 3, 3, 4]
    context = [rule.context_upto(k, P(prefix=9)) for k in range(1, 11)]
    assert context == [0, 0, 2, 2, 2, 5, 5, 5, 5, 9]


def test_an_adaptive_request_gets_batches_sized_by_the_current_limit() -> None:
    request = ScriptRequest(idea="A heist", duration_s=80, strategy="batched", concurrency=6)
    rule = strategy_for(request, size=lambda: 2)
    assert isinstance(rule, AdaptiveBatched) and rule.concurrency == 6
    assert rule.ends == [3]
    assert strategy_for(request.model_copy(update={"strategy": "windowed"}), lambda: 2) == Windowed(
        6, 12
    )
