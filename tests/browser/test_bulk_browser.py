"""The Bulk page in a real browser: the template uploaded through the file picker is checked
row by row, runs, and the page then says every script finished, with the table per row."""

from __future__ import annotations

from pathlib import Path

from browser.test_dashboard_browser import DOCS, _open, app_url, browser  # noqa: F401 - fixtures
from storygen.bulk.rows import TEMPLATE


def test_the_template_uploads_runs_and_shows_every_row(browser, app_url, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    template = tmp_path / "ideas.csv"
    template.write_text(TEMPLATE, encoding="utf-8")
    page = _open(browser, f"{app_url}/bulk", height=1800)
    expect(page.get_by_role("heading", name="Bulk: many scripts from one file")).to_be_visible()
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    page.locator("input[type='file']").set_input_files(str(template))
    expect(page.get_by_text("3 rows: 3 ready to run, 0 rejected")).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("3 of 3 scripts finished.")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Scripts and summary (zip)")).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(2)  # checked, then done
    page.mouse.move(0, 0)  # no tooltip over the screenshot
    page.screenshot(path=str(DOCS / "bulk.png"))
    page.close()
