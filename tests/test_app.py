"""The app starts and runs one simulated generation."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_app_runs_a_simulated_generation() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    at.number_input[0].set_value(40)
    at.button[0].click().run()
    assert not at.exception
    assert "5 scenes" in at.success[0].value
    assert len(at.dataframe[0].value) == 5


def test_app_shows_bad_input_next_to_the_form() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_area[0].set_value("   ")
    at.button[0].click().run()
    assert "idea" in at.error[0].value
