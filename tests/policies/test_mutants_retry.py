"""The bounds of a retry policy, at their edges (gaps found by mutation testing)."""

from __future__ import annotations

import pytest

from storygen import InvalidRequestError, RetryPolicy


@pytest.mark.parametrize("attempts", [1, 2, 20])
def test_one_to_twenty_attempts_are_allowed(attempts: int) -> None:
    """One attempt means "never retry", a real choice for a run that must not cost twice."""
    assert RetryPolicy(attempts=attempts).attempts == attempts


@pytest.mark.parametrize("attempts", [0, 21])
def test_attempts_outside_one_to_twenty_are_refused_naming_the_field(attempts: int) -> None:
    with pytest.raises(InvalidRequestError, match=f"got {attempts}") as info:
        RetryPolicy(attempts=attempts)
    assert info.value.field == "attempts"


@pytest.mark.parametrize(("initial", "most"), [(-0.1, 1.0), (2.0, 1.0)])
def test_waits_must_run_from_zero_up_to_the_cap(initial: float, most: float) -> None:
    with pytest.raises(InvalidRequestError) as info:
        RetryPolicy(initial_wait_s=initial, max_wait_s=most)
    assert str(info.value) == "retry waits must satisfy 0 <= initial_wait_s <= max_wait_s"
    assert info.value.field == "initial_wait_s"


def test_no_wait_at_all_is_allowed() -> None:
    assert RetryPolicy(initial_wait_s=0.0, max_wait_s=0.0).max_wait_s == 0.0
