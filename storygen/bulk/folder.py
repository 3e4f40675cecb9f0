"""A bulk run on disk: which row became which run, and what came out.

Layout of ``--out-dir``: manifest.json (rows -> run ids, rejected rows, the Batch API
jobs submitted), scripts/row-NNNN.<format> (one export per finished script, written
atomically) and summary.csv (one line per input row, with its script's continuity findings
once it is finished). The scenes themselves live in the
run store, one run directory per script, so a kill loses nothing and resume pays for
nothing twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storygen.backends.config import BackendConfig, config_from_settings
from storygen.bulk.manifest import Entry, Manifest
from storygen.bulk.rows import Rejected, Row
from storygen.core import export
from storygen.core.csv_safety import safe_value
from storygen.core.errors import InvalidRequestError
from storygen.core.models import Script, ScriptRequest
from storygen.core.pricing import estimate_cost, is_simulated
from storygen.store import RunDir, RunStore, atomic_write

MANIFEST = "manifest.json"
SUMMARY_COLUMNS: tuple[str, ...] = (
    "row",
    "idea",
    "status",
    "run_id",
    "scenes",
    "scenes_total",
    "wall_time_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "priced_as",
    "error",
    "findings",  # continuity findings of a finished script (core.continuity); last: new
    # a simulated run costs nothing (cost_usd empty, as `generate` says "n/a (simulated)"):
    # what its tokens would cost on priced_as
    "would_cost_usd",
)


@dataclass
class SummaryLine:
    row: int
    idea: str
    status: str
    run_id: str = ""
    scenes: int = 0
    scenes_total: int = 0
    wall_time_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    priced_as: str = ""
    error: str = ""
    findings: int | None = None  # unknown until the script is finished
    would_cost_usd: float | None = None  # a simulated run's tokens on priced_as


class BulkDir:
    """The folder of one bulk run; the manifest is rewritten atomically on every change."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = Path(path)
        self.manifest = manifest
        # findings of finished scripts by run id: a finished script never changes, and a
        # page polling the summary should not parse every script again
        self._findings: dict[str, int] = {}

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        source: str,
        valid: Iterable[Row],
        rejected: Iterable[Rejected],
        store: RunStore,
        backend_settings: dict[str, Any],
        options: dict[str, Any],
    ) -> BulkDir:
        """One run directory per valid row, then the manifest: both before any call."""
        path = Path(path)
        if (path / MANIFEST).exists():
            raise InvalidRequestError(
                f"{path} already holds a bulk run: continue it with "
                f"`python -m storygen bulk resume {path}`, or choose another --out-dir",
                "out_dir",
            )
        path.mkdir(parents=True, exist_ok=True)
        entries = [
            Entry(
                row=r.row,
                idea=r.request.idea,
                run_id=store.create(r.request, backend_settings).run_id,
                scenes=r.request.scene_count,
            )
            for r in valid
        ]
        manifest = {
            "version": 1,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "store": str(store.root.resolve()),
            **options,
            "rows": entries,
            "rejected": list(rejected),
            "batches": [],
        }
        bulk = cls(path, Manifest.of(manifest))
        bulk.save()
        return bulk

    @classmethod
    def open(cls, path: Path) -> BulkDir:
        path = Path(path)
        try:
            data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidRequestError(
                f"no bulk run at {path}: expected a folder holding {MANIFEST} "
                "(start one with `python -m storygen bulk FILE --out-dir DIR`)",
                "out_dir",
            ) from None
        except ValueError as exc:
            raise InvalidRequestError(f"{path / MANIFEST} is not valid JSON ({exc})") from None
        try:
            return cls(path, Manifest.of(data))
        except ValidationError as exc:
            raise InvalidRequestError(f"{path / MANIFEST} is not a bulk manifest ({exc})") from None

    def save(self) -> None:
        atomic_write(self.path / MANIFEST, self.manifest.to_json())

    @property
    def store(self) -> RunStore:
        return RunStore(self.manifest.store)

    @property
    def entries(self) -> list[Entry]:
        return list(self.manifest.rows)

    @property
    def rejected(self) -> list[Rejected]:
        return list(self.manifest.rejected)

    @property
    def format(self) -> str:
        return self.manifest.format

    def run(self, entry: Entry) -> RunDir:
        return self.store.open(entry.run_id)

    def backend_config(self) -> BackendConfig:
        """The backend the scripts were created with: they share one (keys from the env)."""
        return config_from_settings(self.run(self.entries[0]).backend_settings())

    def export_path(self, row: int) -> Path:
        return self.path / "scripts" / f"row-{row:04d}{export.SUFFIX[self.format]}"

    def write_export(self, row: int, script: Script, run: RunDir | None = None) -> Path:
        """Atomically, so a kill never leaves half a script for a reader to trust. A JSON
        export is the run's script.json, copied rather than serialized again."""
        path = self.export_path(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = run.path / "script.json" if run is not None else None
        if self.format == "json" and written is not None and written.exists():
            text = written.read_text(encoding="utf-8")
        else:
            text = export.render(script, self.format)
        atomic_write(path, text)
        return path

    def summary(self) -> list[SummaryLine]:
        """Every input row, from the run store: the truth, whatever the process saw."""
        price_as, batch = self.manifest.price_as, self.manifest.via == "batch-api"
        lines = [_line(e, self.run(e), price_as, batch, self._findings) for e in self.entries]
        lines += [SummaryLine(r.row, r.idea, "rejected", error=r.error) for r in self.rejected]
        return sorted(lines, key=lambda line: line.row)

    def write_summary(self) -> list[SummaryLine]:
        lines = self.summary()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for line in lines:
            # ideas and errors are text a person or a model wrote: neutralised (OWASP)
            writer.writerow("" if v is None else safe_value(v) for v in asdict(line).values())
        atomic_write(self.path / "summary.csv", out.getvalue())
        return lines


def _findings(run: RunDir, status: dict[str, Any], known: dict[str, int]) -> int | None:
    """How many continuity findings a finished script has: from its status when the store
    wrote them there, else from the script (once per run)."""
    if status.get("status") != "finished":
        return None
    if "findings" in status:
        return int(status["findings"])
    if run.run_id not in known and (script := run.finished_script()) is not None:
        known[run.run_id] = len(export.findings_of(script))
    return known.get(run.run_id)


def _line(
    entry: Entry, run: RunDir, price_as: str, batch: bool, known: dict[str, int]
) -> SummaryLine:
    status = run.status()
    wall = status.get("wall_time_s")
    request: ScriptRequest = run.request()
    if status.get("status") == "finished" and "prompt_tokens" in status:
        scenes = request.scene_count  # no need to read thousands of checkpoint lines
        prompt, completion = int(status["prompt_tokens"]), int(status["completion_tokens"])
    else:
        done = run.load_checkpoint()
        scenes = len(done)
        prompt = sum(t.prompt_tokens + t.extra_prompt_tokens for _, t in done.values())
        completion = sum(t.completion_tokens + t.extra_completion_tokens for _, t in done.values())
        if (script := run.finished_script()) is not None:  # finished before tokens were kept
            prompt, completion = script.meta.prompt_tokens, script.meta.completion_tokens
    model = str(run.backend_settings().get("model", ""))
    simulated = is_simulated(model)
    priced_as = price_as if simulated else model
    cost = estimate_cost(priced_as, prompt, completion, batch=batch)
    cost = None if cost is None else round(cost, 6)
    return SummaryLine(
        row=entry.row,
        idea=entry.idea,
        status=str(status.get("status", "unknown")),
        run_id=entry.run_id,
        scenes=scenes,
        scenes_total=request.scene_count,
        wall_time_s=None if wall is None else round(float(wall), 3),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=None if simulated else cost,
        priced_as=priced_as if cost is not None else "",
        error=str(status.get("error") or ""),
        findings=_findings(run, status, known),
        would_cost_usd=cost if simulated else None,
    )
