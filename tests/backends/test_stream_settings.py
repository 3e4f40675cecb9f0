"""--stream, --first-token-timeout and --max-tokens: from the flags to the saved settings."""

from __future__ import annotations

import pytest

from storygen.backends.config import BackendConfig, config_from_settings
from storygen.cli.flags import Usage, backend_config
from storygen.cli.main import _parser

BASE = ["generate", "--idea", "A fox opens a bakery", "--duration", "16"]
ENV = {"OPENAI_API_KEY": "sk-flags-0123456789"}


def config(monkeypatch: pytest.MonkeyPatch, *flags: str) -> BackendConfig:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return backend_config(_parser().parse_args([*BASE, "--backend", "openai", *flags]))


def test_by_default_calls_are_plain_with_a_first_token_limit_and_sized_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = config(monkeypatch)
    assert (c.stream, c.first_token_timeout_s, c.max_tokens) == (False, 20, None)


def test_the_flags_set_them_and_a_run_saves_them_without_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flags = ("--stream", "--first-token-timeout", "5", "--max-tokens", "700")
    c = config(monkeypatch, *flags)
    assert (c.stream, c.first_token_timeout_s, c.max_tokens) == (True, 5, 700)
    saved = c.settings()
    assert saved["stream"] is True and saved["first_token_timeout_s"] == 5
    assert "sk-flags" not in str(saved)
    assert config_from_settings(saved).model_dump() == c.model_dump()  # resume keeps them


def test_the_first_token_limit_follows_a_shorter_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert config(monkeypatch, "--timeout", "8").first_token_timeout_s == 8


def test_stream_is_an_openai_flag() -> None:
    with pytest.raises(Usage, match="--stream applies to --backend openai only"):
        backend_config(_parser().parse_args([*BASE, "--stream"]))


def test_help_says_how_the_token_limit_is_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["generate", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "--max-tokens MAX_TOKENS default: sized to the answer asked for" in said
    assert "stream every call: cuts runaway answers early; pipelined always streams" in said
