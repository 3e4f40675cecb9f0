"""A shared deployment: each visitor works in a workspace of their own (a folder of the run
store), named by the page address or by the signed-in user; pages re-attach to their job
after a reload; a local single user still sees everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dashboard import APP, FAST, poll, shared_mode, texts, visit
from streamlit.testing.v1 import AppTest

from storygen import RunFailedError, RunStore, ScriptRequest, SimulatedBackend, generate
from storygen.store.run_store import WORKSPACES

RUNS, GENERATE = "pages/runs.py", "pages/generate.py"
IDEA_A = "A lighthouse keeper teaches a gull to read"
IDEA_B = "Two robots open a tea shop on the moon"


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return shared_mode(monkeypatch, tmp_path / "runs")


def _finished(at: AppTest) -> bool:
    return "job_generate" in at.session_state and at.session_state["job_generate"].done


def write(at: AppTest, idea: str, duration: int = 32) -> str:
    """Write ``idea`` on Generate to the end; the run id the address then names."""
    at.text_area(key="gen_idea").set_value(idea)
    at.number_input(key="gen_duration").set_value(duration)
    at.button[0].click().run()
    poll(at, _finished)
    return str(at.query_params["run"])


def test_each_visitor_sees_only_their_own_runs(shared: Path) -> None:
    a, b = visit(), visit()
    ws_a, ws_b = a.query_params["ws"], b.query_params["ws"]
    assert ws_a != ws_b  # a random workspace each, kept in the address
    run_a = write(a, IDEA_A)
    write(b, IDEA_B)
    assert RunStore(shared).workspace(ws_a).own(run_a) is not None  # in A's folder
    assert RunStore(shared).list() == []  # nothing at the top of the store

    b.switch_page(RUNS).run()
    assert b.dataframe[0].value["idea"].tolist() == [IDEA_B]
    assert run_a not in b.selectbox(key="runs_open").options
    assert b.query_params["ws"] == ws_b  # a page link clears the address: put back

    # B types A's run into the address: not found, nothing of A's shown
    peek = visit(GENERATE, ws=ws_b, run=run_a)
    assert any("is not among your runs" in i.value for i in peek.info)
    assert IDEA_A not in " ".join(texts(peek))


def test_a_reload_comes_back_to_the_workspace_and_the_finished_run(shared: Path) -> None:
    a = visit()
    ws = a.query_params["ws"]
    run = write(a, IDEA_A)
    reloaded = visit(GENERATE, ws=ws, run=run)
    assert reloaded.text_area(key="gen_idea").value == IDEA_A  # the form shows what it asked
    reloaded.text_area(key="gen_idea").set_value("A new idea, typed after the reload").run()
    assert reloaded.text_area(key="gen_idea").value == "A new idea, typed after the reload"
    assert reloaded.query_params["ws"] == ws
    assert reloaded.query_params["run"] == run
    assert IDEA_A in " ".join(texts(reloaded))  # its script, from the run store
    assert reloaded.get("download_button")  # ready to export
    reloaded.switch_page(RUNS).run()
    assert reloaded.dataframe[0].value["idea"].tolist() == [IDEA_A]


def test_a_reload_mid_run_reattaches_to_progress_and_cancel(shared: Path) -> None:
    a = visit(time_scale=1.0)  # 75 scenes of ~8 s: running for the whole test
    ws = a.query_params["ws"]
    a.text_area(key="gen_idea").set_value(IDEA_B)
    a.number_input(key="gen_duration").set_value(600)
    a.number_input(key="gen_concurrency").set_value(1)
    a.button[0].click().run()
    run = a.query_params["run"]
    job = a.session_state["job_generate"]
    assert not job.done

    reloaded = visit(GENERATE, time_scale=1.0, ws=ws, run=run)
    assert reloaded.session_state["job_generate"] is job  # the same job, not a copy
    assert reloaded.text_area(key="gen_idea").value == IDEA_B  # not the default idea
    assert reloaded.number_input(key="gen_duration").value == 600
    assert reloaded.number_input(key="gen_concurrency").value == 1
    assert not reloaded.warning, [w.value for w in reloaded.warning]
    assert reloaded.button(key="gen_cancel").label == "Cancel"
    assert any("scenes written" in p.proto.text for p in reloaded.get("progress"))
    reloaded.button(key="gen_cancel").click().run()
    poll(reloaded, lambda at: job.done)
    assert job.status == "cancelled"
    stored = RunStore(shared).workspace(ws).own(run)
    assert stored is not None and stored.status()["status"] == "interrupted"

    other = visit(GENERATE, run=run)  # another visitor given the address: a new workspace
    assert "job_generate" not in other.session_state
    assert any("is not among your runs" in i.value for i in other.info)


def test_an_address_with_a_bad_workspace_id_gets_a_new_workspace(shared: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["ws"] = "../../etc"
    at.run()
    assert not at.exception, at.exception
    assert any("not a workspace id" in w.value for w in at.warning)  # said on arrival
    fresh = at.query_params["ws"]
    assert fresh != "../../etc" and RunStore(shared).workspace(fresh)  # a valid id


def test_a_local_single_user_sees_every_run_and_no_workspace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORYGEN_SHARED", raising=False)
    runs = tmp_path / "runs"
    monkeypatch.setenv("STORYGEN_RUNS_DIR", str(runs))
    generate(ScriptRequest(idea=IDEA_B, duration_s=16), SimulatedBackend(time_scale=FAST),
             store=RunStore(runs))  # fmt: skip
    at = visit(RUNS)
    assert "ws" not in at.query_params
    assert at.dataframe[0].value["idea"].tolist() == [IDEA_B]
    assert not (runs / WORKSPACES).exists()
    # a shared dashboard used this store too: its workspaces are pointed at, not listed
    RunStore(runs).workspace("ann-0123456789").create(ScriptRequest(idea=IDEA_A, duration_s=16),
                                                      {"kind": "simulated"})  # fmt: skip
    at.run()
    assert at.dataframe[0].value["idea"].tolist() == [IDEA_B]
    shown = " ".join(c.value for c in at.caption)
    assert f"1 workspace of a shared dashboard is in `{runs / WORKSPACES}`" in shown


def test_signed_in_visitors_work_in_their_own_workspace(shared: Path) -> None:
    def signed(user: dict[str, object]) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.secrets["auth"] = {
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "a-long-random-string",
            "google": {"client_id": "id", "client_secret": "s", "server_metadata_url": "u"},
        }
        at.user = user
        return at.run()

    stranger = signed({})
    assert not stranger.exception, stranger.exception
    assert [b.label for b in stranger.button] == ["Sign in"]
    assert not stranger.title or stranger.title[0].value == "storygen"
    assert not stranger.text_area  # no page until signed in

    ann = signed({"is_logged_in": True, "email": "ann@example.com"})
    assert not ann.exception, ann.exception
    assert "ws" not in ann.query_params  # the login names the workspace, not the address
    assert "Signed in as ann@example.com: your runs only." in " ".join(texts(ann))
    ann.number_input(key="sim_time_scale").set_value(FAST).run()
    write(ann, IDEA_A)
    (folder,) = (shared / WORKSPACES).iterdir()
    assert folder.name.startswith("user-") and "ann" not in folder.name
    again = signed({"is_logged_in": True, "email": "Ann@Example.com"}).switch_page(RUNS).run()
    assert again.dataframe[0].value["idea"].tolist() == [IDEA_A]
    bob = signed({"is_logged_in": True, "email": "bob@example.com"}).switch_page(RUNS).run()
    assert any("No runs yet" in i.value for i in bob.info)
    nameless = signed({"is_logged_in": True, "name": "Ann"})  # no email, no subject id
    assert not nameless.exception, nameless.exception
    assert "neither an email nor a subject id" in nameless.error[0].value
    assert not nameless.text_area  # no page: whose runs would it show?


IDEAS = "idea,duration_s,strategy,concurrency\nA fox opens a bakery,16,windowed,2\n"


def test_bulk_runs_are_the_workspaces_own_and_the_address_reopens_one(shared: Path) -> None:
    a = visit("pages/bulk.py")
    ws = a.query_params["ws"]
    a.file_uploader(key="bulk_file").set_value(("ideas.csv", IDEAS.encode(), "text/csv")).run()
    a.button(key="bulk_run").click().run()
    poll(a, lambda at: any("1 of 1 scripts finished." in s.value for s in at.success))
    name = a.query_params["bulk"]
    assert (shared / WORKSPACES / ws / "bulk" / name / "manifest.json").exists()

    reloaded = visit("pages/bulk.py", ws=ws, bulk=name)
    assert reloaded.selectbox(key="bulk_open").value.endswith(name)
    assert any("1 of 1 scripts finished." in s.value for s in reloaded.success)

    b = visit("pages/bulk.py", bulk=name)  # another visitor with A's bulk name in the address
    assert b.query_params["ws"] != ws
    assert "Bulk runs" not in [h.value for h in b.subheader]  # nothing listed, nothing opened
    assert "A fox opens a bakery" not in " ".join(texts(b))


def test_a_reload_of_compare_shows_the_comparison_it_ran(shared: Path) -> None:
    a = visit("pages/compare.py")
    ws = a.query_params["ws"]
    a.number_input(key="cmp_duration").set_value(40)
    a.multiselect(key="cmp_batched").set_value([2]).run()
    a.button[0].click().run()
    job = a.session_state["job_compare"]
    poll(a, lambda at: job.done)
    comparison = a.query_params["comparison"]
    reloaded = visit("pages/compare.py", ws=ws, comparison=comparison)
    assert reloaded.session_state["job_compare"] is job
    assert reloaded.number_input(key="cmp_duration").value == 40  # what it was asked
    assert "Lanes" in [h.value for h in reloaded.subheader]

    other = visit("pages/compare.py", comparison=comparison)  # not this visitor's
    assert "job_compare" not in other.session_state
    assert any("is not running in this app any more" in i.value for i in other.info)


def test_after_a_restart_the_address_shows_the_run_from_disk_and_resumes_it(shared: Path) -> None:
    ws = "restart-0123456789"
    store = RunStore(shared).workspace(ws)
    with pytest.raises(RunFailedError):  # failed at scene 3 in a process that is gone
        generate(ScriptRequest(idea=IDEA_A, duration_s=40), SimulatedBackend(time_scale=FAST,
                 fail_scenes=[3]), store=store)  # fmt: skip
    (info,) = store.list()
    at = visit(GENERATE, ws=ws, run=info.run_id)
    assert "job_generate" not in at.session_state  # no job of this app: the files say it all
    assert at.text_area(key="gen_idea").value == IDEA_A
    assert any("scene 3 failed" in w.value for w in at.warning)
    at.button(key="gen_resume").click().run()
    poll(at, _finished)
    assert store.own(info.run_id).status()["status"] == "finished"  # type: ignore[union-attr]


def test_a_run_left_running_by_a_killed_app_is_offered_resume(shared: Path) -> None:
    ws = "killed-0123456789"
    store = RunStore(shared).workspace(ws)
    run = store.create(ScriptRequest(idea=IDEA_B, duration_s=24), {"kind": "simulated"})
    assert run.status()["status"] == "running" and run.in_use() is None  # nobody writes it
    at = visit(GENERATE, ws=ws, run=run.run_id)
    assert [w.value for w in at.warning] == ["it stopped before it finished (the app restarted)"]
    with run.writer():  # now somebody does: no Resume, who it is instead
        busy = visit(GENERATE, ws=ws, run=run.run_id)
        assert any("This run is being written by process" in c.value for c in busy.caption)
        assert "gen_resume" not in [b.key for b in busy.button]
    at.button(key="gen_resume").click().run()
    poll(at, _finished)
    assert run.status()["status"] == "finished"


def test_shared_true_in_the_secrets_switches_shared_mode_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORYGEN_SHARED", raising=False)
    monkeypatch.setenv("STORYGEN_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["shared"] = True
    at.run()
    assert not at.exception, at.exception
    assert "ws" in at.query_params and "Workspace" in [h.value for h in at.sidebar.subheader]
