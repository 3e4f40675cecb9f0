"""compare(..., bible=...): every lane gets the story bible, or none, whatever the request."""

from __future__ import annotations

from storygen import ScriptRequest, compare


def test_compare_with_the_bible_gives_every_lane_one() -> None:
    result = compare(
        "A fox opens a bakery", (5,), duration_s=40, time_scale=0.002, progress=False, bible=True
    )
    assert list(result.scripts) == ["sequential", "batched(5)"]
    for script in result.scripts.values():
        assert script.request.bible and script.bible is not None
        assert script.meta.bible_end_s is not None


def test_bible_false_overrides_a_request_that_asked_for_one() -> None:
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=16, bible=True)
    result = compare(request, (2,), time_scale=0.002, progress=False, bible=False)
    assert all(not s.request.bible and s.bible is None for s in result.scripts.values())
