"""A shared dashboard in a real browser: one app server with STORYGEN_SHARED=1 and two
visitors at once, each in a Chromium context of their own. A reload brings A back to the run
A is writing (progress and Cancel); B, in another workspace, sees none of A's runs or bulk
runs, even with A's run id typed into the address.

A table's cells are drawn on a canvas, not as page text: what a visitor is offered is read
from the Runs page's picker and the Bulk page's list instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from browser.test_dashboard_browser import TIME_SCALE, app_url, browser  # noqa: F401 - fixtures

# a shared deployment on the simulated LLM: no key from the environment reaches it
SHARED = {"STORYGEN_SHARED": "1", "OPENAI_API_KEY": "", "STORYGEN_API_KEYS": ""}
pytestmark = pytest.mark.parametrize("app_url", [SHARED], indirect=True, ids=["shared"])

IDEA_A = "A clockmaker's apprentice hides a comet inside a teacup"
BULK_IDEA_A = "A beekeeper on Mars argues with her hive about the weather"
IDEA_B = "Two otters run a night ferry"  # short: the Runs picker shows it whole
SLOW = "1.0"  # a median call lasts 8 s: 75 scenes one at a time outlive the test
# Streamlit's error page, and the app's one line for an unexpected error (ui/actions.py)
BROKEN = ("Traceback", "This app has encountered an error", "Something went wrong")
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


class Visitor:
    """One person at the dashboard: a browser context of their own (cookies, storage) and
    its tab. Every page it shows is checked for an error on screen."""

    def __init__(self, chromium: Any, url: str) -> None:
        self.context = chromium.new_context(viewport={"width": 1400, "height": 1400})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.url = url

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.page.url).query).items()}

    def text(self) -> str:
        """The page's text, and the values its fields show (a picker's choice)."""
        body = self.page.locator("body")
        return f"{body.inner_text()}\n{body.aria_snapshot()}"

    def healthy(self) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("[data-testid='stException']")).to_have_count(0)
        shown = self.text()
        assert not [b for b in BROKEN if b in shown], shown

    def idle(self) -> None:
        """Wait until the page's script run is over: what it did not draw is not coming."""
        self.page.locator(IDLE).wait_for()

    def goto(self, path: str, heading: str) -> None:
        """A new session at ``path`` (an address typed, a bookmark)."""
        from playwright.sync_api import expect

        self.page.goto(f"{self.url}{path}")
        expect(self.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        self.page.wait_for_url(re.compile(r"[?&]ws="))

    def nav(self, title: str, heading: str) -> None:
        """Another page of the same session, through the sidebar's link."""
        from playwright.sync_api import expect

        self.page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
        expect(self.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        self.healthy()

    def time_scale(self, value: str) -> None:
        scale = self.page.get_by_label("Time scale", exact=True).and_(self.page.locator("input"))
        scale.fill(value)
        scale.press("Enter")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitors(browser: Any, app_url: str) -> Iterator[tuple[Visitor, Visitor]]:  # noqa: F811
    a, b = Visitor(browser, app_url), Visitor(browser, app_url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _bulk_run(a: Visitor, tmp_path: Path) -> str:
    """A writes one short script on Bulk; the folder name its address then carries."""
    from playwright.sync_api import expect

    ideas = tmp_path / "ideas.csv"
    ideas.write_text(f"idea,duration_s\n{BULK_IDEA_A},16\n", encoding="utf-8")
    a.nav("Bulk", "Bulk: many scripts from one file")
    a.page.locator("input[type='file']").set_input_files(str(ideas))
    run = a.page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled()
    run.click()
    expect(a.page.get_by_text("1 of 1 scripts finished.")).to_be_visible(timeout=60_000)
    a.page.wait_for_url(re.compile(r"[?&]bulk="))
    a.healthy()
    return a.params()["bulk"]


def _write(v: Visitor, idea: str, *, duration: str, size: str) -> str:
    """``v`` starts a script of ``idea`` on Generate; the run id the address then carries."""
    v.nav("Generate", "Generate a script")
    v.page.get_by_role("textbox", name="Idea").fill(idea)
    for label, value in (("Duration (seconds)", duration), ("Batch size / window", size)):
        field = v.page.get_by_role("spinbutton", name=label)
        field.fill(value)
        field.press("Enter")
    v.page.get_by_role("button", name="Write the script").click()
    v.page.wait_for_url(re.compile(r"[?&]run="))
    v.healthy()
    return v.params()["run"]


def _offered_on_runs(v: Visitor) -> Any:
    """The runs the Runs page's picker offers ``v`` (its list left open)."""
    v.nav("Runs", "Runs")
    v.page.get_by_role("combobox", name="Run", exact=True).click()
    return v.page.get_by_role("option")


def test_two_visitors_reload_and_never_see_each_others_runs(
    visitors: tuple[Visitor, Visitor], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    a, b = visitors
    a.goto("/", "Generate a script")
    ws_a = a.params()["ws"]
    a.time_scale(TIME_SCALE)
    bulk_a = _bulk_run(a, tmp_path)
    a.time_scale(SLOW)
    run_a = _write(a, IDEA_A, duration="600", size="1")  # one scene at a time, slowly
    expect(a.page.get_by_role("button", name="Cancel")).to_be_visible()
    assert a.params()["ws"] == ws_a
    expect(_offered_on_runs(a).filter(has_text=IDEA_A[:39])).to_have_count(1)
    a.page.keyboard.press("Escape")
    a.nav("Generate", "Generate a script")
    expect(a.page.get_by_role("button", name="Cancel")).to_be_visible()
    a.page.wait_for_url(re.compile(rf"[?&]run={run_a}"))

    # A reloads mid-run: a new session, back on the same run with its progress and Cancel
    a.page.reload()
    progress = a.page.get_by_text(re.compile(r"\d+/75 scenes written"))
    expect(progress).to_be_visible()
    expect(a.page.get_by_role("button", name="Cancel")).to_be_visible()
    expect(a.page.get_by_role("button", name="Write the script")).to_be_disabled()
    assert (a.params()["ws"], a.params()["run"]) == (ws_a, run_a)
    a.healthy()

    # B, at the same time, in a workspace of their own
    b.goto("/", "Generate a script")
    ws_b = b.params()["ws"]
    assert ws_b != ws_a
    b.time_scale(TIME_SCALE)
    _write(b, IDEA_B, duration="32", size="5")
    expect(b.page.get_by_text("4 scenes in", exact=False)).to_be_visible(timeout=60_000)
    offered = _offered_on_runs(b)
    expect(offered.filter(has_text=IDEA_B)).to_have_count(1)
    expect(offered).to_have_count(1)  # B's run only: not A's, nor A's bulk run's
    b.page.keyboard.press("Escape")
    b.idle()
    assert IDEA_A[:39] not in b.text() and run_a[:15] not in b.text()
    b.nav("Bulk", "Bulk: many scripts from one file")
    b.idle()
    expect(b.page.get_by_role("heading", name="Bulk runs")).to_have_count(0)
    assert bulk_a not in b.text() and BULK_IDEA_A not in b.text()

    # B types A's bulk folder, then A's run id, into the address: nothing of A's
    b.goto(f"/bulk?ws={ws_b}&bulk={bulk_a}", "Bulk: many scripts from one file")
    b.idle()
    expect(b.page.get_by_role("heading", name="Bulk runs")).to_have_count(0)
    assert BULK_IDEA_A not in b.text()
    b.healthy()
    b.goto(f"/?ws={ws_b}&run={run_a}", "Generate a script")
    expect(b.page.get_by_text(f"Run {run_a} is not among your runs")).to_be_visible()
    b.idle()
    expect(b.page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert IDEA_A[:39] not in b.text()
    assert b.params()["ws"] == ws_b
    b.healthy()

    # A cancels from the reloaded page: the run stops, its scenes kept, Resume offered
    expect(progress).to_be_visible()  # still running after all of B's visits
    a.page.get_by_role("button", name="Cancel").click()
    kept = a.page.get_by_text(re.compile(r"cancelled: \d+ of 75 scenes kept"))
    expect(kept).to_be_visible()
    expect(a.page.get_by_role("button", name="Resume")).to_be_visible()
    expect(a.page.get_by_role("button", name="Cancel")).to_have_count(0)
    a.healthy()
