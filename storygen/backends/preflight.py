"""Before a run: is there a key, does the server answer, does it know the model?

Apart from the config so that the app can check a backend without the CLI, and the
config be read without the openai SDK.
"""

from __future__ import annotations

from storygen.backends.config import DEFAULT_MODEL, OPENAI_URL, BackendConfig
from storygen.core.errors import InvalidRequestError
from storygen.core.secrets import mask


def check_backend(config: BackendConfig, timeout_s: float = 5.0) -> None:
    """Raises InvalidRequestError whose ``field`` says which setting to fix."""
    if config.kind != "openai":
        return
    import openai  # only a real backend pays for the SDK

    from storygen.backends.openai_errors import about_the_key, server_words

    keys = config.key_values()
    if not keys:
        raise InvalidRequestError(
            "an API key is needed for the OpenAI-compatible backend: enter one, or set "
            "OPENAI_API_KEY (or STORYGEN_API_KEYS for a pool)",
            "api_keys",
        )
    base_url = (config.base_url or OPENAI_URL).rstrip("/")
    model = config.model or DEFAULT_MODEL
    client = openai.OpenAI(api_key=keys[0], base_url=base_url, max_retries=0, timeout=timeout_s)
    try:
        names = [m.id for m in client.models.list()]
    except openai.APIConnectionError:
        raise InvalidRequestError(
            f"cannot reach {base_url}: check the base URL and that the server is running",
            "base_url",
        ) from None
    except openai.AuthenticationError as exc:
        raise InvalidRequestError(
            f"the API key {mask(keys[0])} was rejected by {base_url}: {server_words(exc, keys)}",
            "api_keys",
        ) from None
    except openai.NotFoundError:
        return  # some compatible servers have no /models; the first call will tell
    except openai.APIStatusError as exc:  # the server's reason: "answered 400" hides it
        said = server_words(exc, keys)
        raise InvalidRequestError(
            f"{base_url} answered {exc.status_code} to a model listing: {said}",
            "api_keys" if about_the_key(said) else "base_url",
        ) from None
    finally:
        client.close()
    if names and model not in names:
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        raise InvalidRequestError(
            f"model {model} not found at {base_url} (it offers: {shown})", "model"
        )
