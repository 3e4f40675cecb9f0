"""Usage errors: a bad flag value, said in the words the user typed.

The library names the fields of a request or a backend config (``duration_s``); a person
typed ``--duration``. Errors found after argparse are reported here, with the flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest, request_error


class Usage(Exception):
    """A bad flag value found after argparse: exit 2 like argparse does."""


class Spelled(argparse.Action):
    """Store the value and which of a flag's names was typed (``--window`` or
    ``--batch-size``), so that an error names the one the user wrote."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


# The flag that sets each field of a request or a backend config: an error names what the
# user typed, not the field's name inside storygen.
FIELD_FLAGS: dict[str, str] = {
    "idea": "--idea",
    "duration_s": "--duration",
    "strategy": "--strategy",
    "concurrency": "--batch-size",
    "lag_allowance": "--lag-allowance",
    "style": "--style",
    "language": "--language",
    "seconds_per_scene": "--seconds-per-scene",
    "context_scenes": "--context-scenes",
    "seed": "--seed",
    "repair_budget": "--repair-budget",
    "attempts": "--attempts",
    "time_scale": "--time-scale",
    "error_rate": "--error-rate",
    "sim_rpm": "--sim-rpm",
    "hang_rate": "--hang-rate",
    "hang_factor": "--hang-factor",
    "capacity": "--capacity",
    "base_url": "--base-url",
    "model": "--model",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "timeout_s": "--timeout",
    "first_token_timeout_s": "--first-token-timeout",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "per_key_concurrency": "--per-key-concurrency",
    "rate_window_s": "--rate-window",
}


def flag_names(args: argparse.Namespace) -> dict[str, str]:
    """FIELD_FLAGS as this command line spelled them: ``--window 0`` is named --window; an
    adaptive run's most is --max-concurrency."""
    names = dict(FIELD_FLAGS)
    if getattr(args, "concurrency", None) == "adaptive":
        names["concurrency"] = "--max-concurrency"
    elif spelled := getattr(args, "concurrency_flag", None):
        names["concurrency"] = spelled
    return names


def in_flags(message: str, field: str | None, names: dict[str, str]) -> str:
    """A library message about ``field`` in the words of the command line."""
    text = message.removeprefix("invalid request: ")
    flag = names.get(field or "")
    if flag is None:
        return text
    if text.startswith((f"{field}:", f"{field} ")):
        return flag + text[len(field or "") :]
    return f"{flag}: {text}"


@contextmanager
def named_flags(args: argparse.Namespace) -> Iterator[None]:
    """Bad values checked by the library (a backend config, a retry policy) are reported
    with the flag typed, as a usage error."""
    try:
        yield
    except InvalidRequestError as exc:
        raise Usage(in_flags(str(exc), exc.field, flag_names(args))) from None


def request_from_flags(args: argparse.Namespace, **fields: Any) -> ScriptRequest:
    """``ScriptRequest(**fields)``; every bad field named by its flag."""
    try:
        return ScriptRequest(**fields)
    except ValidationError as exc:
        error = request_error(exc, flag_names(args))
        raise Usage(str(error).removeprefix("invalid request: ")) from None
