"""Every notebook runs top to bottom through a real Jupyter kernel; a cell that raises fails.

The kernel works in a temporary folder (its runs/ and out/ land there), imports storygen
from this checkout, and runs the simulated LLM fast (STORYGEN_TIME_SCALE).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

from storygen.sim import RunningServer, SimServerConfig

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel inherits this environment: storygen from this checkout, fast latencies,
    and no API key unless a test sets one."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("STORYGEN_TIME_SCALE", "0.003")
    for name in ("OPENAI_API_KEY", "STORYGEN_API_KEYS", "OPENAI_BASE_URL", "STORYGEN_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run_notebook(nb: NotebookNode, cwd: Path) -> NotebookNode:
    client = NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def texts(nb: NotebookNode) -> str:
    """Everything the cells printed or showed as text."""
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out.append(output.get("data", {}).get("text/plain", ""))
            out.append(output.get("data", {}).get("text/html", ""))
    return "\n".join(out)


def test_the_notebooks_are_committed_without_outputs() -> None:
    """Diffs stay readable: no outputs, no execution counts (nbstripout's rule)."""
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_batch_sizes.ipynb",
        "03_real_llm.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_quickstart_writes_exports_and_resumes(kernel_env: Path) -> None:
    nb = run_notebook(nbformat.read(NOTEBOOKS[0], as_version=4), kernel_env)
    shown = texts(nb)
    assert "<Script 'A lighthouse keeper finds a map': 75 scenes, windowed(5)" in shown
    assert "scene 40 failed" in shown and "resume wrote" in shown
    written = json.loads((kernel_env / "out" / "lighthouse.json").read_text())
    assert [s["index"] for s in written["scenes"]] == list(range(1, 76))
    runs = [json.loads(p.read_text()) for p in (kernel_env / "runs").glob("*/status.json")]
    assert sorted(r["status"] for r in runs) == ["finished", "finished"]


def test_batch_sizes_shows_live_bars_tables_and_charts(kernel_env: Path) -> None:
    nb = run_notebook(nbformat.read(NOTEBOOKS[1], as_version=4), kernel_env)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    kinds = [kind for o in outputs for kind in o.get("data", {})]
    assert kinds.count("application/vnd.jupyter.widget-view+json") >= 7  # a bar per lane
    assert kinds.count("application/vnd.plotly.v1+json") == 5  # the charts, inline
    shown = texts(nb)
    assert "Speedup vs sequential" in shown and "batched(25)" in shown
    assert not [o for o in outputs if o["output_type"] == "error"]


def test_real_llm_without_a_key_says_so_in_one_line_and_stops_cleanly(kernel_env: Path) -> None:
    nb = run_notebook(nbformat.read(NOTEBOOKS[2], as_version=4), kernel_env)
    printed = [o["text"] for c in nb.cells for o in c.get("outputs", []) if "text" in o]
    assert len(printed) == 1 and printed[0].startswith("Not run: an API key is needed")
    assert printed[0].count("\n") == 1


def test_real_llm_compares_and_prices_against_an_openai_compatible_server(
    kernel_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real openai SDK in the kernel, over HTTP, to serve-sim on 127.0.0.1."""
    key = "sk-notebook-test-key-0001"
    with RunningServer(SimServerConfig(time_scale=0.002)) as server:
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("STORYGEN_MODEL", "gpt-4o-mini")
        nb = run_notebook(nbformat.read(NOTEBOOKS[2], as_version=4), kernel_env)
        served = sum(server.state.requests_by_key.values())
    shown = texts(nb)
    assert "ready: gpt-4o-mini" in shown and "estimated" in shown
    cost = float(shown.split("total estimated cost: $")[1].split()[0])
    assert cost > 0
    assert served >= 3 * 15  # three configurations of 15 scenes went over HTTP
    assert key not in json.dumps(nb)


def test_a_kernel_interrupt_during_generate_leaves_a_resumable_run(kernel_env: Path) -> None:
    """SIGINT to the kernel process is what "Interrupt kernel" sends."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import os, signal\n"
                "from storygen import RunStore, ScriptRequest, SimulatedBackend, generate\n"
                "from storygen.engine.events import SceneFinished\n"
                "done = []\n"
                "def interrupt(event):\n"
                "    if isinstance(event, SceneFinished):\n"
                "        done.append(event)\n"
                "        if len(done) == 5:\n"
                "            os.kill(os.getpid(), signal.SIGINT)\n"
                "request = ScriptRequest(idea='A heist', duration_s=240, strategy='windowed')\n"
                "generate(request, SimulatedBackend(time_scale=0.003), store=RunStore('runs'),\n"
                "         subscribers=[interrupt])"
            )
        ]
    )
    with pytest.raises(CellExecutionError, match="KeyboardInterrupt"):
        run_notebook(nb, kernel_env)
    (status_file,) = (kernel_env / "runs").glob("*/status.json")
    assert json.loads(status_file.read_text())["status"] == "interrupted"

    from storygen import SimulatedBackend, resume

    script = resume(status_file.parent, SimulatedBackend(time_scale=0.003))
    assert [s.index for s in script.scenes] == list(range(1, 31))
