"""A shared deployment's per-run caps: read from settings by name, each value checked, and a
request over them refused with the field to change."""

from __future__ import annotations

import pytest

from storygen import InvalidRequestError, ScriptRequest
from storygen.core.run_caps import RunCaps, in_flight


def _caps(**settings: str) -> RunCaps:
    return RunCaps.from_settings(settings.get)


def test_unset_settings_get_the_defaults_and_set_ones_win() -> None:
    assert _caps() == RunCaps(600.0, 10, 1.0)
    caps = _caps(
        STORYGEN_MAX_DURATION_S="120", STORYGEN_MAX_IN_FLIGHT="4", STORYGEN_MAX_COST="$0.5"
    )
    assert caps == RunCaps(120.0, 4, 0.5)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("STORYGEN_MAX_IN_FLIGHT", "lots", "from 1 to 100"),
        ("STORYGEN_MAX_IN_FLIGHT", "0", "from 1 to 100"),
        ("STORYGEN_MAX_DURATION_S", "9000", "from 8 to 7200"),
        ("STORYGEN_MAX_COST", "nan", "from 0.01 to 10000"),
        ("STORYGEN_MAX_COST", "-1", "from 0.01 to 10000"),
        ("STORYGEN_MAX_RUNNING", "0", "from 1 to 100"),
    ],
)
def test_a_bad_setting_is_named_with_what_is_allowed(name: str, value: str, allowed: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _caps(**{name: value})
    assert str(caught.value) == f"{name} must be a number {allowed} (got {value!r})"


def test_a_request_over_a_cap_names_its_field() -> None:
    caps = RunCaps(120.0, 4, 1.0)
    caps.check(ScriptRequest(idea="x", duration_s=120, concurrency=4))  # at the caps: fine
    with pytest.raises(InvalidRequestError) as long:
        caps.check(ScriptRequest(idea="x", duration_s=128))
    assert long.value.field == "duration_s"
    assert str(long.value) == "this shared dashboard writes videos of at most 120 s (got 128 s)"
    with pytest.raises(InvalidRequestError) as wide:
        caps.check(ScriptRequest(idea="x", duration_s=64, strategy="windowed", concurrency=5))
    assert wide.value.field == "concurrency"
    assert "at most 4 calls in flight per run (got 5)" in str(wide.value)


def test_a_sequential_run_has_one_call_in_flight_whatever_its_size() -> None:
    request = ScriptRequest(idea="x", duration_s=64, strategy="sequential", concurrency=50)
    assert in_flight(request) == 1
    RunCaps(600.0, 1, 1.0).check(request)


def test_the_spend_cap_is_the_visitors_never_above_the_deployments() -> None:
    caps = RunCaps(600.0, 10, 1.0)
    assert caps.cost(None) == 1.0 and caps.cost(0.25) == 0.25 and caps.cost(5.0) == 1.0
