"""The app's shell: navigation over pages/, and the backend sidebar every page shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import APP, open_app, shown_after, texts
from streamlit.testing.v1 import AppTest

PAGES = {
    "pages/generate.py": "Generate a script",
    "pages/compare.py": "Compare batch sizes",
    "pages/runs.py": "Runs",
    "pages/bulk.py": "Bulk: many scripts from one file",
}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_every_page_opens_with_the_shared_backend_sidebar(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, at.exception
        assert at.title[0].value == title
        assert at.sidebar.radio(key="backend_kind").value == "Simulated"
        # chosen once, kept on every page
        assert at.sidebar.number_input(key="sim_time_scale").value == pytest.approx(0.002)


def test_a_key_from_st_secrets_is_used_and_never_shown(monkeypatch, runs) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("STORYGEN_API_KEYS", raising=False)
    monkeypatch.setenv("STORYGEN_RUNS_DIR", str(runs))
    secret = "sk-from-secrets-file-9876"
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["OPENAI_API_KEY"] = secret
    at.run()
    at.radio(key="backend_kind").set_value("OpenAI-compatible").run()
    assert not at.exception
    assert "Using the API key from st.secrets." in texts(at)
    assert shown_after(at.sidebar, "API key").type != "warning"
    assert not any(secret in t for t in texts(at))


def test_the_environment_key_is_used_when_nothing_else_is_given(monkeypatch, runs) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-1111")
    monkeypatch.delenv("STORYGEN_API_KEYS", raising=False)
    at = open_app(monkeypatch, runs)
    at.radio(key="backend_kind").set_value("OpenAI-compatible").run()
    assert "Using the API key from the environment." in texts(at)
    assert not any("sk-from-the-environment-1111" in t for t in texts(at))


def test_a_base_url_that_is_not_http_is_said_below_the_field(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.radio(key="backend_kind").set_value("OpenAI-compatible").run()
    at.text_input(key="oa_base_url").set_value("ftp://models.example").run()
    message = shown_after(at.sidebar, "Base URL")
    assert message.type == "warning" and "http://" in message.value
    at.button[0].click().run()
    assert not at.exception
    assert "job_generate" not in at.session_state
