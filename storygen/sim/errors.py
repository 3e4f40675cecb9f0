"""The error bodies serve-sim answers with, in OpenAI's shapes (and llama.cpp's one quirk).

Both the live endpoint and the Batch API use them, so a batch line is refused exactly as
the same request sent live would be.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

# An answer without its transport: HTTP status and JSON body.
Answer = tuple[int, dict[str, Any]]

NOT_STORYGEN = "serve-sim only answers storygen's outline and scene prompts"


def error_body(message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


def error(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(message, code), status_code=status, headers=headers)


def refusal(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> JSONResponse:
    """The Batch API's error, which names the parameter at fault."""
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    return JSONResponse(body, status_code=status)


def server_error(status: int) -> Answer:
    """A scripted or drawn HTTP status, as the live endpoint and a batch line answer it."""
    if status >= 500:
        return status, error_body("The server had an error while processing your request.")
    return status, error_body(f"serve-sim scripted fault: HTTP {status}")


def validation_500(fmt: str) -> Answer:
    """llama-cpp-python's answer to a response_format it does not know: FastAPI's
    RequestValidationError, caught by its route handler and sent as an internal error."""
    detail = {
        "type": "literal_error",
        "loc": ("body", "response_format", "type"),
        "msg": "Input should be 'text' or 'json_object'",
        "input": fmt,
        "ctx": {"expected": "'text' or 'json_object'"},
    }
    body = {
        "error": {
            "message": f"1 validation error:\n  {detail}",
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
    return 500, body
