"""Settings, pre-flight checks, and the CLI on the real HTTP path (serve-sim in a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, serve_sim_command

from storygen import InvalidRequestError
from storygen.backends.config import BackendConfig, keys_from_env, openai_config_from_env
from storygen.backends.factory import build_backend
from storygen.backends.preflight import check_backend
from storygen.core.pricing import estimate_cost, load_prices
from storygen.sim import RunningServer, SimServerConfig

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-cli-0123456789abcdef"


def test_environment_sources_and_flag_precedence() -> None:
    env = {
        "OPENAI_API_KEY": "sk-single-000000000",
        "STORYGEN_API_KEYS": "sk-a-0000000000, sk-b-0000000000",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "STORYGEN_MODEL": "llama3.1",
    }
    config = openai_config_from_env(env, model="qwen2.5", base_url=None)
    assert [k.get_secret_value() for k in config.api_keys] == ["sk-a-0000000000", "sk-b-0000000000"]
    assert config.model == "qwen2.5"  # the flag beats the environment
    assert config.base_url == "http://127.0.0.1:9/v1"
    assert "sk-a" not in repr(config) and "sk-a" not in json.dumps(config.settings())
    single = keys_from_env({"OPENAI_API_KEY": "sk-single-000000000"})
    assert [k.get_secret_value() for k in single] == ["sk-single-000000000"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"base_url": "localhost:8000"}, "base_url"),
        ({"rpm": 0}, "rpm"),
        ({"temperature": 5}, "temperature"),
        ({"per_key_concurrency": 0}, "per_key_concurrency"),
    ],
)
def test_bad_settings_name_the_field(fields: dict, field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        BackendConfig.build_config(kind="openai", **fields)
    assert info.value.field == field and field in str(info.value)


def test_missing_key_is_reported_before_any_call() -> None:
    with pytest.raises(InvalidRequestError, match="API key") as info:
        check_backend(BackendConfig(kind="openai"))
    assert info.value.field == "api_keys"
    with pytest.raises(InvalidRequestError, match="no API key"):
        build_backend(BackendConfig(kind="openai"))


def test_preflight_finds_unreachable_server_bad_key_and_unknown_model() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(InvalidRequestError, match=f"cannot reach {closed}") as info:
        check_backend(BackendConfig(kind="openai", base_url=closed, api_keys=[KEY]))
    assert info.value.field == "base_url"
    with RunningServer(SimServerConfig(api_keys=frozenset({KEY}))) as server:
        check_backend(BackendConfig(kind="openai", base_url=server.url, api_keys=[KEY]))
        with pytest.raises(InvalidRequestError, match="rejected") as info:
            check_backend(
                BackendConfig(kind="openai", base_url=server.url, api_keys=["sk-wrong-00000000"])
            )
        assert info.value.field == "api_keys" and "sk-wrong-00000000" not in str(info.value)
        with pytest.raises(InvalidRequestError, match="model gpt-9 not found") as info:
            check_backend(
                BackendConfig(kind="openai", base_url=server.url, api_keys=[KEY], model="gpt-9")
            )
        assert info.value.field == "model" and "storygen-sim-1" in str(info.value)


def test_cost_estimate_uses_the_price_table(tmp_path: Path) -> None:
    assert estimate_cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost("some-local-model", 1000, 1000) is None
    prices = tmp_path / "prices.json"
    prices.write_text('{"some-local-model": [1.0, 2.0]}')
    table = load_prices(prices)
    assert estimate_cost("some-local-model", 1_000_000, 0, table) == pytest.approx(1.0)
    prices.write_text("not json")
    with pytest.raises(InvalidRequestError, match="price file"):
        load_prices(prices)


@pytest.fixture
def serve_sim_process() -> Iterator[str]:
    with serve_sim_command("--time-scale", "0.002", "--api-key", KEY) as url:
        yield url


def test_cli_generate_against_serve_sim_with_a_key_pool(
    serve_sim_process: str, tmp_path: Path
) -> None:
    env = {**os.environ, "STORYGEN_API_KEYS": KEY}
    env.pop("OPENAI_API_KEY", None)
    out = tmp_path / "script.json"
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "generate", "--idea", "A fox opens a bakery",
         "--duration", "120", "--strategy", "windowed", "--batch-size", "auto",
         "--backend", "openai", "--base-url", f"{serve_sim_process}/v1",
         "--model", "storygen-sim-1", "--per-key-concurrency", "4", "--out", str(out),
         "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = json.loads(out.read_text())
    assert len(script["scenes"]) == 15 and script["meta"]["concurrency"] == 4  # auto: 1 key x 4
    assert KEY not in done.stdout + done.stderr
    assert "cost n/a (simulated); on gpt-4o-mini these tokens would cost $" in done.stdout
    assert script["meta"]["timeline"][0]["prompt_tokens"] > 0  # usage from the responses
    for file in (tmp_path / "runs").rglob("*"):
        if file.is_file():
            assert KEY not in file.read_text()
    stats = json.loads(urllib.request.urlopen(f"{serve_sim_process}/sim/stats").read())
    assert stats["requests"] == 15 and KEY not in json.dumps(stats)


def test_cli_bad_key_exits_1_with_masked_message(serve_sim_process: str, tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "sk-wrong-key-999999999"}
    env.pop("STORYGEN_API_KEYS", None)
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "generate", "--idea", "x", "--duration", "16",
         "--strategy", "sequential", "--backend", "openai", "--base-url",
         f"{serve_sim_process}/v1", "--model", "storygen-sim-1", "--runs-dir", str(tmp_path),
         "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "the API key was rejected" in done.stderr
    assert "sk-wrong-key-999999999" not in done.stderr and "Traceback" not in done.stderr
    stats = json.loads(urllib.request.urlopen(f"{serve_sim_process}/sim/stats").read())
    assert stats["requests"] == 1  # a 401 is not worth a second try
    (run_dir,) = tmp_path.iterdir()  # the failed run is kept, to resume with a good key
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


def test_cli_openai_without_key_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "STORYGEN_API_KEYS")}
    done = subprocess.run(
        [sys.executable, "-m", "storygen", "generate", "--idea", "x", "--duration", "16",
         "--backend", "openai", "--runs-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any run was created
