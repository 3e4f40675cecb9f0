"""The domain: what a user asks for and what storygen writes back."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storygen.core.bounds import CONCURRENCY, DURATION_S, HEDGE_AFTER_S, SHARE
from storygen.core.continuity import Finding, check
from storygen.core.errors import InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd

# a run's record lives in run_meta; imported from here as before
from storygen.core.run_meta import (  # noqa: F401
    STRATEGIES,
    RunMeta,
    SceneTiming,
    StrategyName,
)


class HedgeSettings(BaseModel):
    """Backup calls for hung requests (see storygen.policies.hedging)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_s: float | None = Field(
        default=None,
        gt=HEDGE_AFTER_S.low,
        le=HEDGE_AFTER_S.high,
        description="a fixed hedge delay in seconds; none adapts",
    )
    budget: float = Field(
        default=0.05,
        ge=SHARE.low,
        le=SHARE.high,
        description=f"extra calls as a share of all calls, {SHARE.low} to {SHARE.high}",
    )


class AdaptiveSettings(BaseModel):
    """Concurrency found at run time (``policies.adaptive``); ``concurrency`` is the most."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(
        default=2,
        ge=CONCURRENCY.low,
        le=CONCURRENCY.high,
        description=f"calls in flight at first, {CONCURRENCY.low} to {CONCURRENCY.high}",
    )
    min_concurrency: int = Field(
        default=1,
        ge=CONCURRENCY.low,
        le=CONCURRENCY.high,
        description=f"{CONCURRENCY.low} to {CONCURRENCY.high}",
    )


class ScriptRequest(BaseModel):
    """What to write and how to schedule it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idea: str = Field(min_length=1, max_length=2000, description="1 to 2000 characters")
    style: str = Field(default="cinematic", max_length=500)
    language: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$",
        description="an ISO 639 code such as en, es, fr, de or pt-BR",
    )
    duration_s: float = Field(
        ge=DURATION_S.low,
        le=DURATION_S.high,
        description=f"{DURATION_S.low} to {DURATION_S.high} seconds",
    )
    seconds_per_scene: float = Field(default=8, ge=1, le=60, description="1 to 60 seconds")
    strategy: StrategyName = "batched"
    concurrency: int = Field(
        default=5,
        ge=CONCURRENCY.low,
        le=CONCURRENCY.high,
        description=f"batch size or window, {CONCURRENCY.low} to {CONCURRENCY.high}",
    )
    lag_allowance: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="windowed and pipelined: scene k waits for scenes 1..k-A (pipelined: "
        "for their summaries); default 2 x concurrency for windowed, 1 for pipelined",
    )
    context_scenes: int = Field(
        default=5, ge=0, le=50, description="previous scene summaries quoted, 0 to 50"
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    hedge: HedgeSettings | None = Field(
        default=None, description="backup calls for hung requests; none: no hedging"
    )
    adaptive: AdaptiveSettings | None = Field(
        default=None,
        description="find the concurrency at run time, up to `concurrency`; none: fixed",
    )
    # A story bible call before any scene (core.prompts.bible_prompt). Off by default until
    # measured: it costs one call's latency up front.
    bible: bool = Field(default=False, description="true or false")
    # Regenerate the scenes the continuity check flags, within ``repair_budget``.
    repair: bool = Field(default=False, description="true or false")
    repair_budget: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="a share of the scenes, above 0 and at most 1; at least one call",
    )

    @field_validator("idea")
    @classmethod
    def _idea_not_blank(cls, idea: str) -> str:
        if not idea.strip():
            raise ValueError("the idea must contain text, not only spaces")
        return idea

    @classmethod
    def build(cls, **fields: Any) -> ScriptRequest:
        """Validate ``fields``, turning pydantic's report into one clear message."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise request_error(exc) from None

    @property
    def scene_count(self) -> int:
        return math.ceil(self.duration_s / self.seconds_per_scene - 1e-9)

    @property
    def effective_lag_allowance(self) -> int:
        if self.strategy == "pipelined":
            return self.lag_allowance or 1
        return self.lag_allowance or 2 * self.concurrency


def request_error(
    exc: ValidationError, names: Mapping[str, str] | None = None
) -> InvalidRequestError:
    """Name each bad field, what was given and what is allowed. ``names``: what the caller
    calls a field (the CLI: the flag typed), so that a message names what the user wrote;
    ``field`` stays the field's own name."""
    parts: list[str] = []
    first_field: str | None = None
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "request"
        first_field = first_field or field
        info = ScriptRequest.model_fields.get(field)
        allowed = f" (allowed: {info.description})" if info and info.description else ""
        if err["type"] == "literal_error" and field == "strategy":
            allowed = f" (allowed: {', '.join(STRATEGIES)})"
        given = err.get("input")
        shown = "" if isinstance(given, dict) else f"; got {given!r}"
        # our own validators' words, without pydantic's "Value error, " before them
        said = err["msg"].removeprefix("Value error, ")
        parts.append(f"{(names or {}).get(field, field)}: {said}{allowed}{shown}")
    return InvalidRequestError("invalid request: " + "; ".join(parts), field=first_field)


# The field descriptions of what a model writes are prompt text: the JSON schema sent to
# models carries them (core.prompts.schema_for), and a model takes them as instructions.
_SAME_NAMES = "spelled exactly as the story bible or earlier scenes spell them"


class Dialogue(BaseModel):
    speaker: str = Field(description=f"The name of the character who speaks, {_SAME_NAMES}.")
    line: str = Field(description="What the character says, one short line.")


class SceneDraft(BaseModel):
    """The creative fields of a scene: all a model is trusted to supply. The summary comes
    first, so a streamed answer tells it early: pipelined scenes start on it."""

    summary: str = Field(
        description="One line: what happens and who is in it, by name. Later scenes read it."
    )
    title: str = Field(description="A short title for this scene.")
    visual_prompt: str = Field(
        description="What the video model renders in this clip, in one paragraph: the place, "
        "the light, the action, and every character present with their full look."
    )
    narration: str = Field(
        description="What the narrator says over this clip; short enough to fit its length."
    )
    characters: list[str] = Field(
        default_factory=list,
        description=f"The names of the characters in this scene, {_SAME_NAMES}.",
    )
    location: str = Field(description="Where this scene takes place.")
    dialogues: list[Dialogue] = Field(
        default_factory=list, description="The lines spoken in this scene, in order; may be empty."
    )
    camera: str = Field(description="The shot and the camera's movement.")


class Scene(SceneDraft):
    """A written scene; index and duration come from the engine, never from a model."""

    index: int = Field(ge=1)
    duration_s: float = Field(gt=0)

    @classmethod
    def from_draft(cls, draft: SceneDraft, index: int, duration_s: float) -> Scene:
        return cls(**draft.model_dump(), index=index, duration_s=duration_s)


class Character(BaseModel):
    name: str = Field(description="The character's name, spelled the same in every scene.")
    role: str = Field(description="Who the character is in the story, in a few words.")
    visual_identity: str = Field(
        description="How the character looks in every clip (face, build, hair, clothes), "
        "in one short phrase a video model can render the same way each time."
    )


_CAST = "The cast: at most 8 characters, each with a name, a role and a look that never changes."
_SETTING = "Where and when the story takes place, in one short sentence."
_OBJECTS = "The few key objects the story turns on, a few words each."


class Bible(BaseModel):
    """What every scene must agree on, written once before any scene and quoted in each."""

    characters: list[Character] = Field(description=_CAST)
    setting: str = Field(default="", description=_SETTING)
    objects: list[str] = Field(default_factory=list, description=_OBJECTS)


class Outline(BaseModel):
    """The plan of plan-then-write: a story bible and one beat per scene."""

    title: str = Field(description="The title of the video.")
    logline: str = Field(description="One sentence saying what the story is about.")
    characters: list[Character] = Field(description=_CAST)
    beats: list[str] = Field(
        description="Exactly one sentence per scene, in order, together forming one arc."
    )
    setting: str = Field(default="", description=_SETTING)
    objects: list[str] = Field(default_factory=list, description=_OBJECTS)

    @property
    def bible(self) -> Bible:
        """An outline run's bible: one model serves both, so no separate bible call."""
        return Bible(characters=self.characters, setting=self.setting, objects=self.objects)


# The columns of a script as a table (CSV export, DataFrame), one row a scene.
CSV_COLUMNS = (
    "index",
    "duration_s",
    "title",
    "location",
    "characters",
    "camera",
    "visual_prompt",
    "narration",
    "dialogues",
    "summary",
)


class Script(BaseModel):
    title: str
    request: ScriptRequest
    outline: Outline | None = None
    # The bible every scene was told: the bible call's, or an outline run's outline.bible.
    bible: Bible | None = None
    scenes: list[Scene]
    meta: RunMeta
    findings: list[Finding] = Field(
        default_factory=list, description="the continuity check when the run finished"
    )
    stale: list[int] = Field(
        default_factory=list,
        description="scenes whose prompts quoted a summary since changed (runner.edits)",
    )

    def check(self, *, rate: float | None = None) -> list[Finding]:
        """The continuity check of this script as it is now (``core.continuity``)."""
        return check(self, rate=rate)

    def rows(self) -> Iterator[tuple[int, str, str, str, str, str, str, str, str, str]]:
        """One row a scene in CSV_COLUMNS order, lists joined readably: the CSV export and
        to_dataframe() share it, so the two tables never drift apart."""
        for s in self.scenes:
            yield (
                s.index,
                f"{s.duration_s:g}",
                s.title,
                s.location,
                ", ".join(s.characters),
                s.camera,
                s.visual_prompt,
                s.narration,
                "\n".join(f"{d.speaker}: {d.line}" for d in s.dialogues),
                s.summary,
            )

    def to_dataframe(self) -> pd.DataFrame:
        """The script as a table: the very columns and values of the CSV export."""
        import pandas as pd

        return pd.DataFrame(list(self.rows()), columns=list(CSV_COLUMNS))

    def __repr__(self) -> str:
        strategy, size = self.request.strategy, self.request.concurrency
        config = strategy if strategy == "sequential" else f"{strategy}({size})"
        wall = f", {self.meta.wall_time_s:.2f} s" if self.meta.wall_time_s else ""
        return f"<Script {self.title!r}: {len(self.scenes)} scenes, {config}{wall}>"

    def _repr_html_(self, first: int = 10) -> str:
        """Title, the outline's logline when there is one, and the first scenes as a table."""
        import html

        head = [f"<h3>{html.escape(self.title)}</h3>"]
        if self.outline is not None:
            head.append(f"<p><i>{html.escape(self.outline.logline)}</i></p>")
        head.append(f"<p>{html.escape(repr(self)[1:-1])}</p>")
        table = self.to_dataframe().head(first)
        more = len(self.scenes) - len(table)
        if more > 0:
            head.append(f"<p>The first {len(table)} scenes ({more} more):</p>")
        return "\n".join([*head, table.to_html(index=False, border=0)])
