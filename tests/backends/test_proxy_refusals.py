"""A proxy that refuses a wrong key with a 400 (LiteLLM) is heard: its own reason is shown,
with the key masked, and the setting to fix is the key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from storygen import InvalidRequestError
from storygen.backends.config import BackendConfig
from storygen.backends.openai_errors import sdk_error
from storygen.backends.preflight import check_backend
from storygen.core.errors import PermanentError
from storygen.core.secrets import mask

KEY = "sk-wrong-0123456789abcdef"
# LiteLLM's answer to a key it does not know, echoing the key it was sent
LITELLM = {
    "error": {
        "message": f"Authentication Error, Invalid proxy server token passed. key={KEY} not "
        "found in db. Create key via `/key/generate` call.",
        "type": "auth_error",
        "param": "None",
        "code": "400",
    }
}
OTHER = {"error": {"message": "route /v1/models is disabled on this proxy", "type": "x"}}


def serve(status: int, body: dict[str, object]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def litellm() -> Iterator[str]:
    yield from serve(400, LITELLM)


@pytest.fixture
def other() -> Iterator[str]:
    yield from serve(400, OTHER)


def test_a_proxys_wrong_key_refusal_shows_its_reason_masked(litellm: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_backend(BackendConfig(kind="openai", base_url=litellm, api_keys=[KEY]))
    said = str(info.value)
    assert said.startswith(f"{litellm} answered 400 to a model listing: Authentication Error, ")
    assert "Invalid proxy server token passed" in said
    assert KEY not in said and mask(KEY) in said  # the echoed key, masked
    assert info.value.field == "api_keys"


def test_another_refusal_shows_its_reason_and_blames_the_url(other: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_backend(BackendConfig(kind="openai", base_url=other, api_keys=[KEY]))
    assert str(info.value) == (
        f"{other} answered 400 to a model listing: route /v1/models is disabled on this proxy"
    )
    assert info.value.field == "base_url"


def _bad_request(body: dict[str, object]) -> openai.BadRequestError:
    response = httpx.Response(400, request=httpx.Request("POST", "http://proxy/v1/chat"))
    inner = body["error"]
    return openai.BadRequestError(f"Error code: 400 - {body}", response=response, body=inner)


def test_a_call_refused_for_its_key_says_the_key_was_rejected() -> None:
    error = sdk_error(
        _bad_request(LITELLM), where="http://proxy/v1", keys=[KEY], timeout_s=60, model="m"
    )
    assert isinstance(error, PermanentError)
    assert str(error).startswith("the API key was rejected by http://proxy/v1 (400: ")
    assert KEY not in str(error)
    tokens = {"error": {"message": "max_tokens is too large: 99999", "type": "invalid"}}
    error = sdk_error(
        _bad_request(tokens), where="http://proxy/v1", keys=[KEY], timeout_s=60, model="m"
    )
    assert str(error).startswith("http://proxy/v1 refused the request (400: ")
