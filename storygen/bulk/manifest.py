"""manifest.json of a bulk folder, typed: each setting's default is stated here once.

Files written before a setting existed still read: a missing key takes its default, an
unknown one is kept. Writing keeps the file's own keys in their own order and adds no key
nobody set, so a folder re-saved by this version reads the same to an older one.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from storygen.bulk.rows import Rejected
from storygen.policies.retry import RetryPolicy

Via = Literal["live", "batch-api"]


class Entry(BaseModel):
    """One accepted row and its run (a model, so that a manifest written before ``scenes``
    existed is saved again without it)."""

    row: int
    idea: str
    run_id: str
    scenes: int = 0  # the script's scene count, so progress knows the total at once


class Manifest(BaseModel):
    """What a bulk run was started with, which row became which run, and (Batch API) the
    jobs it submitted and the calls that failed."""

    model_config = ConfigDict(extra="allow")

    version: int = 1
    created: str = ""
    source: str = ""
    store: str  # the run store's folder, resolved
    format: str = "json"
    max_in_flight: int = 50
    scripts_at_once: int | None = None  # None: live.MAX_AT_ONCE
    attempts: int = RetryPolicy().attempts
    price_as: str = "gpt-4o-mini"  # the model a simulated run's tokens are priced as
    via: Via = "live"
    fallback: Literal["none", "live"] = "none"  # batch-api: lines that still fail go live
    batch_attempts: int = 3
    poll_interval: float = 5.0
    rows: list[Entry] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    # The Batch API's bookkeeping: one record a submitted job, tries per call, time zero.
    batches: list[dict[str, Any]] = Field(default_factory=list)
    tries: dict[str, int] = Field(default_factory=dict)
    zero: float | None = None
    _order: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Manifest:
        """From the manifest's JSON object (or a new one), keeping its key order."""
        manifest = cls.model_validate(data)
        manifest._order = list(data)
        return manifest

    def to_json(self) -> str:
        data = self.model_dump(exclude_unset=True)
        order = [*self._order, *(k for k in data if k not in self._order)]
        return json.dumps({k: data[k] for k in order if k in data}, indent=2)

    def begin_rounds(self, now: float) -> float:
        """The Batch API's bookkeeping kept from its first round on; returns time zero."""
        if "batches" not in self.model_fields_set:
            self.batches = []
        if "tries" not in self.model_fields_set:
            self.tries = {}
        if self.zero is None:
            self.zero = now
        return self.zero
