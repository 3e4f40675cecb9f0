"""A Batch API input file, read and checked as OpenAI checks it (its codes, 1-based lines)."""

from __future__ import annotations

import json
from typing import Any

ENDPOINT = "/v1/chat/completions"
MAX_LINES = 50_000  # OpenAI's limit of requests per batch

# One refusal of a line: (code, message, param).
_Problem = tuple[str, str, str | None]

_NOT_JSON: _Problem = ("invalid_json_line", "This line is not parseable as valid JSON.", None)
_NO_CUSTOM_ID: _Problem = (
    "missing_required_parameter",
    "Missing required parameter: 'custom_id'.",
    "custom_id",
)
_DUPLICATE: _Problem = (
    "duplicate_custom_id",
    "The custom_id for this request is a duplicate of another request. "
    "The custom_id parameter must be unique for each request in a batch.",
    "custom_id",
)
_MODEL_MISMATCH: _Problem = (
    "model_mismatch",
    "The provided model does not match the model of the other requests in the "
    "batch: a batch holds requests for one model.",
    "body.model",
)


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def _id_problem(item: Any, seen: set[str]) -> _Problem | None:
    """Why the line cannot be a request at all; a line with a good custom_id claims it."""
    if not isinstance(item, dict):
        return _NOT_JSON
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return _NO_CUSTOM_ID
    if custom_id in seen:
        return _DUPLICATE
    seen.add(custom_id)
    return None


def _request_problem(item: dict[str, Any]) -> _Problem | None:
    if item.get("method") != "POST":
        return ("invalid_value", "The method must be 'POST'.", "method")
    if item.get("url") != ENDPOINT:
        return (
            "url_mismatch",
            "The URL provided for this request does not match the batch endpoint.",
            "url",
        )
    if not isinstance(item.get("body"), dict):
        return ("missing_required_parameter", "Missing required parameter: 'body'.", "body")
    return None


def read_input_file(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's requests, and why it is refused (no errors: it is not)."""
    errors: list[dict[str, Any]] = []

    def refuse(line: int, problem: _Problem) -> None:
        code, message, param = problem
        errors.append({"code": code, "line": line, "message": message, "param": param})

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        refuse(1, _NOT_JSON)
        return [], errors
    requests: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[Any] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = _parsed(raw)
        if (problem := _id_problem(item, seen) or _request_problem(item)) is not None:
            refuse(number, problem)
            continue
        models.add(item["body"].get("model"))
        if len(models) > 1:
            refuse(number, _MODEL_MISMATCH)  # refused, yet read: the file fails anyway
        requests.append(item)
    if not requests and not errors:
        refuse(1, ("empty_file", "The batch input file is empty.", None))
    if len(requests) > MAX_LINES:
        message = f"The batch input file holds more than the {MAX_LINES} requests a batch allows."
        refuse(MAX_LINES + 1, ("too_many_tasks", message, None))
    return requests, errors
