"""Which backend to use and how: one model for the CLI, the app and resume.

Data only: building a backend from it is ``backends.factory``'s job, and checking it
against the server ``backends.preflight``'s, so that reading a config never imports the
openai SDK. Keys are SecretStr so that printing, logging or dumping a config never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from storygen.core.bounds import CAPACITY, CONCURRENCY, HANG_FACTOR, MAX_TOKENS, SHARE, TIME_SCALE
from storygen.core.errors import InvalidRequestError

BackendKind = Literal["simulated", "openai"]
DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: BackendKind = "simulated"
    # simulated
    time_scale: float = Field(
        default=1.0,
        ge=TIME_SCALE.low,
        le=TIME_SCALE.high,
        description=f"{TIME_SCALE.low} to {TIME_SCALE.high}",
    )
    error_rate: float = Field(default=0.0, ge=0, le=0.9, description="0 to 0.9")
    sim_rpm: int | None = Field(default=None, ge=1, description="at least 1")
    median_s: float = Field(default=8.0, ge=0, le=600, description="0 to 600 seconds")
    sigma: float = Field(default=0.35, ge=0, le=3, description="0 to 3")
    hang_rate: float = Field(
        default=0.0,
        ge=SHARE.low,
        le=SHARE.high,
        description=f"{SHARE.low} to {SHARE.high}, the share of calls that hang",
    )
    hang_factor: float = Field(
        default=30.0,
        ge=HANG_FACTOR.low,
        le=HANG_FACTOR.high,
        description=f"{HANG_FACTOR.low} to {HANG_FACTOR.high} times the median latency",
    )
    capacity: int | None = Field(
        default=None,
        ge=CAPACITY.low,
        le=CAPACITY.high,
        description=f"{CAPACITY.low} to {CAPACITY.high} calls served at once, or none",
    )
    # OpenAI-compatible
    base_url: str | None = Field(default=None, description="an http(s) URL ending in /v1")
    model: str | None = Field(default=None, min_length=1, description="a model name")
    api_keys: list[SecretStr] = Field(default_factory=list)
    temperature: float = Field(default=0.9, ge=0, le=2, description="0 to 2")
    max_tokens: int | None = Field(
        default=None,
        ge=MAX_TOKENS.low,
        le=MAX_TOKENS.high,
        description=f"{MAX_TOKENS.low} to {MAX_TOKENS.high}; none: sized to the answer",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=600, description="up to 600 seconds")
    # Stream every call (pipelined scenes always stream): a runaway answer is cut early.
    stream: bool = Field(default=False, description="true or false")
    first_token_timeout_s: float | None = Field(
        default=20.0,
        gt=0,
        le=600,
        description="up to 600 seconds, never above timeout_s; none: only timeout_s",
    )
    rpm: int | None = Field(default=None, ge=1, description="requests per minute, at least 1")
    tpm: int | None = Field(default=None, ge=100, description="tokens per minute, at least 100")
    rate_window_s: float = Field(
        default=60.0, gt=0, le=3600, description="the provider's rate window; 60 s for real APIs"
    )
    per_key_concurrency: int = Field(
        default=8,
        ge=CONCURRENCY.low,
        le=CONCURRENCY.high,
        description=f"{CONCURRENCY.low} to {CONCURRENCY.high}",
    )

    @model_validator(mode="after")
    def _first_token_within_the_call(self) -> BackendConfig:
        """A first token later than the whole call's timeout means nothing: cap it."""
        first = self.first_token_timeout_s
        if first is not None and first > self.timeout_s:
            self.first_token_timeout_s = self.timeout_s
        return self

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
