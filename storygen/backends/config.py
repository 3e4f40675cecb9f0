"""Which backend to use and how: one model for the CLI, the app and resume.

Keys are SecretStr so that printing, logging or dumping a config never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from storygen.core.errors import InvalidRequestError
from storygen.core.tasks import Backend

BackendKind = Literal["simulated", "openai"]
DEFAULT_MODEL = "gpt-4o-mini"


def mask(key: str) -> str:
    """Enough of a key to tell which one it was, never enough to use it."""
    return f"{key[:3]}…{key[-4:]}" if len(key) > 10 else "…"


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: BackendKind = "simulated"
    # simulated
    time_scale: float = Field(default=1.0, ge=0, le=100, description="0 to 100")
    error_rate: float = Field(default=0.0, ge=0, le=0.9, description="0 to 0.9")
    sim_rpm: int | None = Field(default=None, ge=1, description="at least 1")
    median_s: float = Field(default=8.0, ge=0, le=600, description="0 to 600 seconds")
    sigma: float = Field(default=0.35, ge=0, le=3, description="0 to 3")
    hang_rate: float = Field(
        default=0.0, ge=0, le=1, description="0 to 1, the share of calls that hang"
    )
    hang_factor: float = Field(
        default=30.0, ge=1, le=1000, description="1 to 1000 times the median latency"
    )
    capacity: int | None = Field(
        default=None, ge=1, le=10_000, description="1 to 10000 calls served at once, or none"
    )
    # OpenAI-compatible
    base_url: str | None = Field(default=None, description="an http(s) URL ending in /v1")
    model: str | None = Field(default=None, min_length=1, description="a model name")
    api_keys: list[SecretStr] = Field(default_factory=list)
    temperature: float = Field(default=0.9, ge=0, le=2, description="0 to 2")
    max_tokens: int = Field(default=1500, ge=16, le=32000, description="16 to 32000")
    timeout_s: float = Field(default=60.0, gt=0, le=600, description="up to 600 seconds")
    rpm: int | None = Field(default=None, ge=1, description="requests per minute, at least 1")
    tpm: int | None = Field(default=None, ge=100, description="tokens per minute, at least 100")
    rate_window_s: float = Field(
        default=60.0, gt=0, le=3600, description="the provider's rate window; 60 s for real APIs"
    )
    per_key_concurrency: int = Field(default=8, ge=1, le=100, description="1 to 100")

    @classmethod
    def build_config(cls, **fields: Any) -> BackendConfig:
        """Validate with one clear message naming the field and what is allowed."""
        try:
            config = cls(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            info = cls.model_fields.get(field)
            allowed = f" (allowed: {info.description})" if info and info.description else ""
            raise InvalidRequestError(f"{field}: {err['msg']}{allowed}", field) from None
        if config.base_url and not config.base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"base_url must start with http:// or https:// (got {config.base_url!r})",
                "base_url",
            )
        return config

    def key_values(self) -> list[str]:
        return [k.get_secret_value() for k in self.api_keys if k.get_secret_value().strip()]

    def build(self, fail_scenes: Iterable[int] = ()) -> Backend:
        """``fail_scenes``: simulated scenes that fail for good, a one-shot demo of failure
        and resume that is never saved with the run."""
        from storygen.backends.simulated import SIM_MODEL, SimulatedBackend

        if self.kind == "simulated":
            return SimulatedBackend(
                time_scale=self.time_scale,
                error_rate=self.error_rate,
                rpm=self.sim_rpm,
                median_s=self.median_s,
                sigma=self.sigma,
                hang_rate=self.hang_rate,
                hang_factor=self.hang_factor,
                capacity=self.capacity,
                model=self.model or SIM_MODEL,
                fail_scenes=fail_scenes,
            )
        from storygen.backends.openai_compat import OpenAIBackend

        return OpenAIBackend(self)

    def settings(self) -> dict[str, Any]:
        """What a run may store: never the keys."""
        return self.model_dump(exclude={"api_keys"}, mode="json")


def config_from_settings(settings: Mapping[str, Any]) -> BackendConfig:
    """Rebuild the config a run saved; keys come back from the environment only."""
    fields = {k: v for k, v in settings.items() if k in BackendConfig.model_fields}
    fields.pop("api_keys", None)
    if fields.get("kind") == "openai":
        fields["api_keys"] = keys_from_env()
    return BackendConfig.build_config(**fields)


def keys_from_env(environ: Mapping[str, str] | None = None) -> list[SecretStr]:
    """STORYGEN_API_KEYS (comma-separated pool) wins over OPENAI_API_KEY."""
    env = os.environ if environ is None else environ
    pool = [k.strip() for k in env.get("STORYGEN_API_KEYS", "").split(",") if k.strip()]
    if not pool and env.get("OPENAI_API_KEY", "").strip():
        pool = [env["OPENAI_API_KEY"].strip()]
    return [SecretStr(k) for k in pool]


def openai_config_from_env(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> BackendConfig:
    """Flags (``overrides``, None = not given) beat the environment, which beats defaults."""
    env = os.environ if environ is None else environ
    fields: dict[str, Any] = {"kind": "openai"}
    if env.get("OPENAI_BASE_URL"):
        fields["base_url"] = env["OPENAI_BASE_URL"]
    if env.get("STORYGEN_MODEL"):
        fields["model"] = env["STORYGEN_MODEL"]
    keys = keys_from_env(env)
    if keys:
        fields["api_keys"] = keys
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return BackendConfig.build_config(**fields)


def check_backend(config: BackendConfig, timeout_s: float = 5.0) -> None:
    """Before a run: is there a key, does the server answer, does it know the model?

    Raises InvalidRequestError whose ``field`` says which setting to fix.
    """
    if config.kind != "openai":
        return
    import openai

    from storygen.backends.openai_compat import OPENAI_URL

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
    except openai.AuthenticationError:
        raise InvalidRequestError(
            f"the API key {mask(keys[0])} was rejected by {base_url}", "api_keys"
        ) from None
    except openai.NotFoundError:
        return  # some compatible servers have no /models; the first call will tell
    except openai.APIStatusError as exc:
        raise InvalidRequestError(
            f"{base_url} answered {exc.status_code} to a model listing", "base_url"
        ) from None
    finally:
        client.close()
    if names and model not in names:
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        raise InvalidRequestError(
            f"model {model} not found at {base_url} (it offers: {shown})", "model"
        )
