"""The "Story bible" switch on Generate and Compare: off by default, and what the run asks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _dashboard import open_app, poll

from storygen import RunStore


@pytest.mark.parametrize(("page", "key"), [("", "gen_bible"), ("pages/compare.py", "cmp_bible")])
def test_the_bible_switch_is_on_both_pages_and_off_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, page: str, key: str
) -> None:
    at = open_app(monkeypatch, tmp_path / "runs", page=page)
    switch = at.checkbox(key=key)
    assert switch.label == "Story bible" and switch.value is False


def test_a_run_started_with_the_switch_on_asks_for_a_bible(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(16)
    at.checkbox(key="gen_bible").check().run()
    at.button[0].click().run()
    poll(at, lambda _: any(i.status != "running" for i in RunStore(runs).list()))
    (info,) = RunStore(runs).list()
    request = json.loads((info.path / "request.json").read_text(encoding="utf-8"))
    assert request["bible"] is True
    assert info.status == "finished", info.error
    assert (info.path / "bible.json").exists()
