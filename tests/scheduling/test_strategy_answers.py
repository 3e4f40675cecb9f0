"""What each strategy answers the engine instead of the engine testing its name."""

from __future__ import annotations

import pytest

from storygen import ScriptRequest
from storygen.scheduling.strategies import AdaptiveBatched, Progress, strategy_for


@pytest.mark.parametrize(
    ("strategy", "adapts", "batches", "caps_in_flight", "lag_allowance"),
    [
        ("sequential", False, False, False, None),
        ("batched", True, True, False, None),
        ("windowed", True, False, True, 6),
        ("outline", True, False, True, None),
    ],
)
def test_each_strategy_says_how_a_limit_applies_to_it(
    strategy: str, adapts: bool, batches: bool, caps_in_flight: bool, lag_allowance: int | None
) -> None:
    request = ScriptRequest(idea="A map", duration_s=80, strategy=strategy, concurrency=3)  # type: ignore[arg-type]
    rule = strategy_for(request)
    assert (rule.adapts, rule.batches, rule.caps_in_flight, rule.lag_allowance) == (
        adapts,
        batches,
        caps_in_flight,
        lag_allowance,
    )


def test_an_adaptive_batched_rule_answers_as_batched() -> None:
    request = ScriptRequest(idea="A map", duration_s=80, strategy="batched", concurrency=3)
    rule = strategy_for(request, size=lambda: 2)
    assert isinstance(rule, AdaptiveBatched)
    assert (rule.adapts, rule.batches, rule.caps_in_flight, rule.lag_allowance) == (
        True,
        True,
        False,
        None,
    )


def test_the_windowed_lag_allowance_is_the_request_s_own() -> None:
    request = ScriptRequest(
        idea="A map", duration_s=80, strategy="windowed", concurrency=3, lag_allowance=2
    )
    assert strategy_for(request).lag_allowance == 2


@pytest.mark.parametrize("strategy", ["sequential", "batched", "windowed", "outline"])
def test_a_groups_members_are_exactly_the_scenes_in_that_group(strategy: str) -> None:
    # The engine counts a group's scenes left from members(): one too many and its
    # BatchFinished never comes, one too few and it comes early.
    request = ScriptRequest(idea="A map", duration_s=80, strategy=strategy, concurrency=3)  # type: ignore[arg-type]
    rule = strategy_for(request)
    total = request.scene_count
    for group in sorted({rule.group(k) for k in range(1, total + 1)}):
        expected = [k for k in range(1, total + 1) if rule.group(k) == group]
        assert [k for k in rule.members(group) if k <= total] == expected


def test_an_adaptive_batch_holds_only_its_own_scenes() -> None:
    sizes = iter([2, 3, 1, 4, 4, 4])
    request = ScriptRequest(idea="A map", duration_s=80, strategy="batched", concurrency=4)
    rule = strategy_for(request, size=lambda: next(sizes))
    assert isinstance(rule, AdaptiveBatched)
    for start in (3, 6, 7):  # each batch opens once the one before it is done
        assert rule.may_start(start, Progress(prefix=start - 1))
    assert [list(rule.members(g)) for g in (1, 2, 3, 4)] == [[1, 2], [3, 4, 5], [6], [7, 8, 9, 10]]
