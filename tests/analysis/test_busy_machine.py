"""A comparison says when its runs were slowed by the machine rather than their strategy."""

from __future__ import annotations

from conftest import BusyMachine

from storygen import ScriptRequest, SimulatedBackend, generate
from storygen.analysis import frames
from storygen.analysis.display import BUSY, busy_note
from storygen.scheduling.ideal import ideal_of


def _request() -> ScriptRequest:
    return ScriptRequest(idea="A fox opens a bakery", duration_s=80, strategy="sequential")


def test_a_comparison_slowed_by_the_machine_says_so() -> None:
    script = generate(_request(), BusyMachine(time_scale=0.002))
    assert script.meta.wall_time_s / ideal_of(script) > BUSY  # 30 ms of load a 16 ms call
    summary = frames.summary_frame([script], ["sequential"])
    note = busy_note(summary)
    assert note is not None
    assert "busy" in note and "understated" in note and "sequential" in note


def test_runs_that_kept_to_their_schedule_say_nothing() -> None:
    script = generate(_request(), SimulatedBackend(time_scale=0.002))
    summary = frames.summary_frame([script], ["sequential"])
    summary["measured_over_ideal"] = 1.0  # the rule itself: at or under the bound is quiet
    assert busy_note(summary) is None
    summary["measured_over_ideal"] = float("nan")  # an adaptive run has no ideal
    assert busy_note(summary) is None
