"""Run directories: a scene is on disk the moment it is written, so nothing is lost.

Layout of ``<root>/<run-id>/``: request.json, backend.json (no secrets), status.json,
outline.json or bible.json (written once, reused on resume), checkpoint.jsonl (one finished
scene a line, flushed at once; then one line a repair call, whose scene replaces the first:
the last line for an index wins), pinned.jsonl (a pipelined run's summaries released to
later scenes before their own scene was written: a resumed run keeps them), timeline.json
and script.json (both written atomically at the end). Once finished, each change to the
script (an edit, a regeneration, an undo: runner.edits) first keeps the script as it was in
versions/NNNN.json (version 0 is the script as generated; never overwritten) and records
itself in history.jsonl (one line a change), then replaces script.json.
"""

from storygen.store.run_dir import RunDir, RunInfo, atomic_write
from storygen.store.run_store import RunStore

__all__ = ["RunDir", "RunInfo", "RunStore", "atomic_write"]
