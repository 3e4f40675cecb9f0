"""The Generate page: real simulated runs at a fast time scale, driven through AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _dashboard import FAST, open_app, poll, shown_after, texts
from streamlit.testing.v1 import AppTest

import storygen
from storygen import RunStore, SimulatedBackend
from storygen.jobs.lane import Lane

GENERATE = "pages/generate.py"
RUNS = "pages/runs.py"
SLOWISH = 0.05  # ~0.4 s a call: a run is still going when Cancel is clicked


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_generate_page_has_every_field_and_the_backend_sidebar(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    assert at.title[0].value == "Generate a script"
    assert [t.label for t in at.text_area] == ["Idea"]
    assert {"Style", "Language"} <= {t.label for t in at.main.text_input}
    assert {"Duration (seconds)", "Batch size / window", "Seed"} <= {
        n.label for n in at.main.number_input
    }
    assert at.selectbox[0].label == "Strategy"
    assert at.button[0].label == "Write the script"
    assert at.sidebar.radio[0].options == ["Simulated", "OpenAI-compatible"]
    assert at.sidebar.number_input[0].label == "Time scale"


def test_a_simulated_run_shows_table_screenplay_timeline_and_downloads(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)  # 10 scenes
    at.button[0].click().run()
    poll(at, lambda at: len(at.success) > 0)
    assert "10 scenes" in at.success[0].value
    table = at.dataframe[0].value
    assert list(table["scene"]) == list(range(1, 11))
    screenplay = [m.value for m in at.markdown if "## Scene 1:" in m.value]
    assert screenplay and "## Scene 10:" in screenplay[0]
    assert len(at.get("plotly_chart")) == 1  # the timeline tab
    assert [d.label for d in at.download_button] == [
        "Download JSON",
        "Download CSV",
        "Download Markdown",
        "Subtitles SRT",
        "Subtitles WebVTT",
        "Screenplay Fountain",
        "Shot list CSV",
        "Shot list JSONL",
    ]
    (info,) = RunStore(runs).list()
    assert (info.status, info.scenes_done) == ("finished", 10)


@pytest.mark.parametrize(
    ("key", "value", "label", "says"),
    [
        ("gen_idea", "   ", "Idea", "idea"),
        ("gen_duration", 9000, "Duration (seconds)", "8 to 7200 seconds"),
        ("gen_concurrency", 0, "Batch size / window", "1 to 100"),
        ("gen_language", "English!", "Language", "ISO 639"),
    ],
)
def test_bad_input_shows_its_message_right_below_the_field(
    monkeypatch, runs, key, value, label, says
) -> None:
    at = open_app(monkeypatch, runs)
    widget = at.text_area(key=key) if key == "gen_idea" else None
    if widget is None:
        widget = at.text_input(key=key) if key == "gen_language" else at.number_input(key=key)
    widget.set_value(value)
    at.button[0].click().run()
    assert not at.exception
    message = shown_after(at.main, label)
    assert message is not None and message.type == "error", message
    assert says in message.value
    assert "job_generate" not in at.session_state
    assert not runs.exists() or not any(runs.iterdir())


def test_a_failure_keeps_finished_scenes_and_resume_finishes_the_run(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.number_input(key="gen_duration").set_value(80)
    at.number_input(key="gen_fail_scene").set_value(6)
    at.button[0].click().run()
    poll(at, lambda at: len(at.error) > 0)
    assert "scene 6 failed" in at.error[0].value
    (info,) = RunStore(runs).list()
    assert info.status == "failed"
    kept = at.dataframe[0].value
    assert len(kept) == info.scenes_done > 0 and 6 not in set(kept["scene"])
    assert at.button(key="gen_resume").label == "Resume"

    at.button(key="gen_resume").click().run()
    poll(at, lambda at: len(at.success) > 0)
    assert "10 scenes" in at.success[0].value
    (info,) = RunStore(runs).list()
    assert (info.status, info.scenes_done) == ("finished", 10)
    assert list(at.dataframe[0].value["scene"]) == list(range(1, 11))


def _lane(at: AppTest) -> Lane:
    return at.session_state["job_generate"].lanes[0]  # type: ignore[no-any-return]


def _checkpointed(runs: Path) -> list[int]:
    """Every scene index in the run's checkpoint.jsonl, line by line, repeats included."""
    (run,) = RunStore(runs)
    lines = (run.path / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["scene"]["index"] for line in lines]


def test_cancel_keeps_the_scenes_written_and_resume_goes_on_from_there(monkeypatch, runs) -> None:
    """Cancel is there while the run goes; clicking it leaves an "interrupted" run whose
    finished scenes stay on screen and on disk. The page's Resume goes on from them (and
    can be cancelled too), and a last resume writes only what is still missing."""
    at = open_app(monkeypatch, runs, time_scale=SLOWISH)
    at.number_input(key="gen_duration").set_value(160)  # 20 scenes, batches of 5
    at.button[0].click().run()
    cancel = at.button(key="gen_cancel")
    assert (cancel.label, cancel.disabled) == ("Cancel", False)
    poll(at, lambda at: _lane(at).snapshot().done >= 1)
    at.button(key="gen_cancel").click().run()
    poll(at, lambda at: len(at.warning) > 0)
    (info,) = RunStore(runs).list()
    kept = info.scenes_done
    assert info.status == "interrupted" and 1 <= kept < 20
    assert at.warning[0].value == f"cancelled: {kept} of 20 scenes kept; Resume finishes it"
    assert not at.error
    assert len(at.dataframe[0].value) == kept  # the kept scenes, on screen
    assert "gen_cancel" not in [b.key for b in at.button]

    at.button(key="gen_resume").click().run()  # at the run's own (slow) time scale
    assert sorted(_lane(at).prior) == sorted(_checkpointed(runs))
    poll(at, lambda at: len(_lane(at).scenes()) > kept)
    at.button(key="gen_cancel").click().run()
    poll(at, lambda at: len(at.warning) > 0)
    (info,) = RunStore(runs).list()
    assert info.status == "interrupted" and kept < info.scenes_done < 20
    assert at.warning[0].value.startswith(f"cancelled: {info.scenes_done} of 20 scenes kept")

    storygen.resume(RunStore(runs).open(info.run_id), SimulatedBackend(time_scale=FAST))
    assert sorted(_checkpointed(runs)) == list(range(1, 21))  # each scene once


def test_a_run_survives_a_page_switch_and_a_widget_change(monkeypatch, runs) -> None:
    at = open_app(monkeypatch, runs)
    at.selectbox(key="gen_strategy").set_value("sequential")
    at.number_input(key="gen_duration").set_value(800)  # 100 scenes, one after another
    at.button[0].click().run()
    # live: a progress bar, the counters, the timeline so far
    assert len(at.get("progress")) == 1
    assert [m.label for m in at.metric] == [
        "Scenes done",
        "Current batch",
        "In flight",
        "Elapsed",
        "ETA",
    ]
    assert len(at.get("plotly_chart")) == 1
    at.switch_page(RUNS).run()
    assert not at.exception
    assert list(at.dataframe[0].value["status"]) == ["running"]
    at.switch_page(GENERATE).run()
    at.text_input(key="gen_style").set_value("noir").run()
    poll(at, lambda at: len(at.success) > 0)
    assert "100 scenes" in at.success[0].value
    assert at.text_input(key="gen_style").value == "noir"
    (info,) = RunStore(runs).list()
    assert (info.status, info.scenes_done) == ("finished", 100)


def test_openai_without_a_key_says_so_next_to_the_key_field(monkeypatch, runs) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("STORYGEN_API_KEYS", raising=False)
    at = open_app(monkeypatch, runs)
    at.radio(key="backend_kind").set_value("OpenAI-compatible").run()
    warning = shown_after(at.sidebar, "API key")
    assert warning.type == "warning" and "API key" in warning.value
    at.button[0].click().run()
    assert not at.exception
    assert shown_after(at.sidebar, "API key").type == "error"
    assert "API key" in shown_after(at.main, "Write the script").value
    assert "job_generate" not in at.session_state


def test_an_api_key_typed_in_is_never_shown_and_a_dead_url_is_named(monkeypatch, runs) -> None:
    secret = "sk-test-never-on-screen-4321"
    at = open_app(monkeypatch, runs)
    at.radio(key="backend_kind").set_value("OpenAI-compatible").run()
    at.text_input(key="oa_base_url").set_value("http://127.0.0.1:9/v1")  # a closed port
    at.text_input(key="oa_api_key").set_value(secret).run()
    assert any("Using the API key from the field above" in t for t in texts(at))
    at.button[0].click().run()
    assert not at.exception
    message = shown_after(at.sidebar, "Base URL")
    assert message.type == "error" and "127.0.0.1:9" in message.value
    assert "job_generate" not in at.session_state
    assert not any(secret in t for t in texts(at))
