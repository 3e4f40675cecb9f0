"""What each strategy answers the engine instead of the engine testing its name."""

from __future__ import annotations

import pytest

from storygen import ScriptRequest
from storygen.scheduling.strategies import AdaptiveBatched, strategy_for


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
