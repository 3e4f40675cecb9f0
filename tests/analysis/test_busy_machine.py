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
    assert note.startswith("This machine was busy: sequential took ")
    assert "its times are longer than its strategy alone makes them." in note


def test_runs_that_kept_to_their_schedule_say_nothing() -> None:
    script = generate(_request(), SimulatedBackend(time_scale=0.002))
    summary = frames.summary_frame([script], ["sequential"])
    summary["measured_over_ideal"] = 1.0  # the rule itself: at or under the bound is quiet
    assert busy_note(summary) is None
    summary["measured_over_ideal"] = float("nan")  # an adaptive run has no ideal
    assert busy_note(summary) is None


def test_the_note_says_which_way_the_speedups_are_off() -> None:
    """A lane's shown speedup is its quiet one times r_sequential / r_lane."""
    scripts = [generate(ScriptRequest(idea="A fox", duration_s=80, strategy=s, concurrency=c),
                        SimulatedBackend(time_scale=0.002))
               for s, c in (("sequential", 1), ("batched", 5))]  # fmt: skip
    summary = frames.summary_frame(scripts, ["sequential", "batched(5)"])
    summary["measured_over_ideal"] = [1.20, 1.02]  # the baseline slowed most: too flattering
    note = busy_note(summary)
    assert note is not None and "off by up to 18% (batched(5)'s is overstated)" in note
    summary["measured_over_ideal"] = [1.02, 1.20]  # the lane slowed most
    note = busy_note(summary)
    assert note is not None and "off by up to 15% (batched(5)'s is understated)" in note
    alone = frames.summary_frame(scripts[1:], ["batched(5)"], baseline="estimated")
    alone["measured_over_ideal"] = [1.25]  # an estimated baseline is the calls summed: r = 1
    note = busy_note(alone)
    assert note is not None and "off by up to 20% (batched(5)'s is understated)" in note
