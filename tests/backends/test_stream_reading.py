"""The summary read from a streamed answer's partial JSON, and refusals of streaming."""

from __future__ import annotations

import httpx2
import openai
import pytest

from storygen.backends.openai_errors import refuses_streaming
from storygen.backends.openai_stream import partial_summary
from storygen.sim.chat import _with_raw_control_characters

SUMMARY = 'Mara finds the map "north" of the pier'
ANSWER = (
    '{"summary": "Mara finds the map \\"north\\" of the pier", "title": "The map", '
    '"narration": "She\\nreads it.", "characters": ["Mara"]}'
)


def prefixes(text: str) -> list[tuple[str, str | None]]:
    return [(text[:n], partial_summary(text[:n])) for n in range(len(text) + 1)]


@pytest.mark.parametrize(
    "text",
    [
        ANSWER,
        "```json\n" + ANSWER + "\n```",
        "<think>The summary first. {not json}</think>\n" + ANSWER,
        _with_raw_control_characters(ANSWER),  # pretty-printed, raw newlines in strings
    ],
)
def test_the_summary_is_known_exactly_once_its_string_is_closed(text: str) -> None:
    closed = text.index('pier"') + len('pier"')
    for prefix, summary in prefixes(text):
        assert summary == (SUMMARY if len(prefix) >= closed else None), prefix


def test_a_raw_newline_inside_the_summary_leaves_it_for_the_finished_answer() -> None:
    """Strict JSON forbids it; the finished answer is read leniently (extract_json)."""
    text = '{"summary": "Mara\nfinds the map", "title": "The map"}'
    assert partial_summary(text) is None


def test_no_summary_field_or_not_an_object_tells_nothing() -> None:
    assert partial_summary('{"title": "The map", "summary') is None
    assert partial_summary('["summary", "x"]') is None
    assert partial_summary('{"summary": 3, "title": "x"}') is None
    assert partial_summary("Sure! Here is") is None


def error(status: int, body: dict[str, object], message: str = "refused") -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, request=request)
    kinds = {400: openai.BadRequestError, 422: openai.UnprocessableEntityError}
    return kinds.get(status, openai.InternalServerError)(message, response=response, body=body)


def test_a_refusal_of_streaming_is_told_apart_from_other_refusals() -> None:
    said = {"message": "stream is not supported by this server", "param": "stream"}
    assert refuses_streaming(error(400, said)) == "stream"
    extra = {
        "detail": [{"loc": ["body", "stream_options"], "msg": "Extra inputs are not permitted"}]
    }
    assert refuses_streaming(error(422, extra)) == "stream_options"
    upstream = {"message": "upstream connect error or disconnect/reset before headers: invalid"}
    assert refuses_streaming(error(500, upstream)) is None  # "upstream" is not "stream"
    assert refuses_streaming(error(429, said)) is None  # a rate limit, whatever it says
    fmt = {"message": "response_format json_schema is not supported by this server"}
    assert refuses_streaming(error(400, fmt)) is None
