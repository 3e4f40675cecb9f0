import pytest

from storygen import InvalidRequestError, ScriptRequest, batches, scene_count, scene_durations


@pytest.mark.parametrize(
    ("duration", "expected"), [(600, 75), (180, 23), (8, 1), (9, 2), (7200, 900), (600.0, 75)]
)
def test_scene_count_is_ceil_of_duration_over_eight(duration: float, expected: int) -> None:
    assert scene_count(duration) == expected


def test_last_scene_takes_the_remainder() -> None:
    durations = scene_durations(180)
    assert len(durations) == 23
    assert durations[:-1] == [8.0] * 22
    assert durations[-1] == 4.0
    assert sum(durations) == 180


def test_exact_multiple_has_full_last_scene() -> None:
    assert scene_durations(600)[-1] == 8.0


def test_batches_cover_every_scene_once_in_order() -> None:
    got = batches(23, 5)
    assert got[0] == [1, 2, 3, 4, 5]
    assert got[-1] == [21, 22, 23]
    assert [k for b in got for k in b] == list(range(1, 24))


def test_request_scene_count_uses_seconds_per_scene() -> None:
    assert ScriptRequest(idea="x", duration_s=60, seconds_per_scene=5).scene_count == 12


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"idea": "", "duration_s": 60}, "idea", "1 to 2000 characters"),
        ({"idea": "   ", "duration_s": 60}, "idea", "only spaces"),
        ({"idea": "x" * 2001, "duration_s": 60}, "idea", "1 to 2000"),
        ({"idea": "x", "duration_s": 5}, "duration_s", "8 to 7200 seconds"),
        ({"idea": "x", "duration_s": 9000}, "duration_s", "8 to 7200 seconds"),
        ({"idea": "x", "duration_s": 60, "concurrency": 0}, "concurrency", "1 to 100"),
        ({"idea": "x", "duration_s": 60, "concurrency": 101}, "concurrency", "1 to 100"),
        ({"idea": "x", "duration_s": 60, "strategy": "turbo"}, "strategy", "windowed"),
        ({"idea": "x", "duration_s": 60, "language": "English"}, "language", "ISO 639"),
        ({"idea": "x", "duration_s": 60, "seconds_per_scene": 0}, "seconds_per_scene", "1 to 60"),
        ({"idea": "x", "duration_s": 60, "context_scenes": -1}, "context_scenes", "0 to 50"),
    ],
)
def test_bad_request_names_field_and_allowed_range(fields: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        ScriptRequest.build(**fields)
    assert info.value.field == field
    assert field in str(info.value)
    assert words in str(info.value)


def test_lag_allowance_defaults_to_twice_the_window() -> None:
    req = ScriptRequest(idea="x", duration_s=600, strategy="windowed", concurrency=5)
    assert req.effective_lag_allowance == 10


@pytest.mark.parametrize(
    ("idea", "title"),
    [
        ("A lighthouse keeper finds a map to a drowned city", "A lighthouse keeper finds a map"),
        ("robots dream.", "Robots dream"),
        ("the", "The"),
    ],
)
def test_title_from_idea_never_ends_on_a_dangling_word(idea: str, title: str) -> None:
    from storygen.core.planning import title_from_idea

    assert title_from_idea(idea) == title
