"""The browser tests need Debian's Chromium: skipped locally without it, failed in CI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


def need(what: str) -> None:
    reason = f"{what}; the browser tests need it (`.ci/run` installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        need(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def sync_playwright() -> Callable[[], Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return sync_playwright


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser starts Chromium and the app: give it longer than the suite's 120 s."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(300))
