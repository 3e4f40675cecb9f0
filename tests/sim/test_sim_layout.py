"""serve-sim's shape after the split: the same routes, an input file checked line by line
as OpenAI checks it, and keys masked by the one ``mask``."""

from __future__ import annotations

import json

import storygen.sim
from storygen.core.secrets import mask
from storygen.sim import SimRequest, SimServerConfig, SimServerState, create_app
from storygen.sim.batch_api_input import MAX_LINES, read_input_file

ROUTES = {
    ("GET", "/sim/stats"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/files"),
    ("GET", "/v1/files/{file_id}"),
    ("GET", "/v1/files/{file_id}/content"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches/{batch_id}"),
    ("POST", "/v1/batches/{batch_id}/cancel"),
    ("GET", "/v1/batches"),
}


def test_serve_sim_answers_the_same_routes() -> None:
    app = create_app(SimServerConfig())
    paths = app.openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert served == ROUTES


def test_the_package_offers_what_callers_import() -> None:
    for name in ("RunningServer", "SimServerConfig", "SimRequest", "create_app", "serve"):
        assert name in storygen.sim.__all__
        assert getattr(storygen.sim, name) is not None


def _file(*rows: object) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def _line(custom_id: str, model: str = "m", **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model},
    }
    return {**row, **over}


def test_a_line_refused_for_its_method_still_claims_its_custom_id() -> None:
    requests, errors = read_input_file(_file(_line("a", method="GET"), _line("a"), _line("b")))
    assert [r["custom_id"] for r in requests] == ["b"]
    assert [(e["code"], e["line"], e["param"]) for e in errors] == [
        ("invalid_value", 1, "method"),
        ("duplicate_custom_id", 2, "custom_id"),
    ]


def test_a_second_model_is_refused_yet_read_so_the_file_is_not_called_empty() -> None:
    requests, errors = read_input_file(_file(_line("a"), "", "{oops", _line("b", model="other")))
    assert [r["custom_id"] for r in requests] == ["a", "b"]
    assert [(e["code"], e["line"]) for e in errors] == [
        ("invalid_json_line", 3),
        ("model_mismatch", 4),
    ]


def test_an_empty_or_undecodable_file_is_refused_on_line_one() -> None:
    assert read_input_file(b"\n  \n")[1][0]["code"] == "empty_file"
    assert read_input_file(b"\xff\xfe")[1] == [
        {
            "code": "invalid_json_line",
            "line": 1,
            "message": "This line is not parseable as valid JSON.",
            "param": None,
        }
    ]


def test_a_file_over_the_limit_is_refused_after_its_last_allowed_line() -> None:
    rows = [_line(f"c{n}") for n in range(MAX_LINES + 1)]
    requests, errors = read_input_file(_file(*rows))
    assert len(requests) == MAX_LINES + 1
    assert [(e["code"], e["line"]) for e in errors] == [("too_many_tasks", MAX_LINES + 1)]


def test_stats_mask_keys_with_the_one_mask() -> None:
    state = SimServerState()
    key = "sk-live-0123456789abcdef"
    state.arrived(SimRequest(key, 0.0, 1))
    stats = state.stats(SimServerConfig())
    assert stats["requests_by_key"] == {mask(key): 1}
    assert stats["max_in_flight_by_key"] == {mask(key): 1}
    assert key not in json.dumps(stats)
