"""Bulk rows of the pipelined strategy: written live, refused by the Batch API with the
reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAST, bulk_folder, fast_policy

from storygen import SimulatedBackend
from storygen.bulk.batch_api_plan import PIPELINED_REFUSAL, check_batchable
from storygen.bulk.live import run_bulk
from storygen.bulk.rows import parse_rows
from storygen.core.errors import InvalidRequestError
from storygen.core.models import ScriptRequest

ROWS = "idea,duration_s,strategy,concurrency\nA fox bakes,40,pipelined,3\nA moth sings,24,,\n"


def test_a_row_may_ask_for_pipelined_beside_rows_of_the_default() -> None:
    rows = parse_rows(ROWS, "csv")
    assert not rows.rejected
    assert [r.request.strategy for r in rows.valid] == ["pipelined", "outline"]
    assert rows.valid[0].request.concurrency == 3


def test_pipelined_rows_are_written_live_with_their_summaries_streamed(tmp_path: Path) -> None:
    bulk = bulk_folder(tmp_path, ROWS)
    result = run_bulk(
        bulk, SimulatedBackend(time_scale=FAST), max_in_flight=4, policy=fast_policy()
    )
    assert [line.status for line in result.lines] == ["finished", "finished"]
    piped = bulk.run(bulk.entries[0]).finished_script()
    assert piped is not None and piped.meta.strategy == "pipelined"
    assert len(piped.scenes) == 5
    assert all(t.summary_s is not None and t.context_lag == 0 for t in piped.meta.timeline)


def test_the_batch_api_refuses_pipelined_with_the_reason() -> None:
    request = ScriptRequest(idea="A", duration_s=16, strategy="pipelined", concurrency=4)
    with pytest.raises(InvalidRequestError) as err:
        check_batchable(request)
    assert PIPELINED_REFUSAL in str(err.value)
    assert PIPELINED_REFUSAL == (
        "a batch job cannot stream, so pipelined cannot start a scene on its predecessor's "
        "summary; use outline or batched"
    )
    assert err.value.field == "strategy" and "use --via live for this row" in str(err.value)
