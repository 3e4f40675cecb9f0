"""What a run leaves besides its scenes: each call's timing and the run's own record."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StrategyName = Literal["sequential", "batched", "windowed", "outline", "pipelined"]
STRATEGIES: tuple[StrategyName, ...] = (
    "sequential",
    "batched",
    "windowed",
    "outline",
    "pipelined",
)


class SceneTiming(BaseModel):
    """What happened to one scene: the raw material of every chart."""

    index: int
    group: int = Field(description="batch number for batched, wave of start for others")
    start_s: float
    end_s: float
    attempts: int
    context_lag: int = Field(description="scenes 1..k-1 not yet done when k started")
    context_size: int = Field(description="previous summaries quoted in the prompt")
    had_outline: bool
    prompt_tokens: int
    completion_tokens: int
    service_s: float = Field(description="call time without scheduling overhead")
    hedged: bool = Field(default=False, description="a backup call was started")
    hedge_start_s: float | None = Field(default=None, description="when the backup started")
    hedge_won: bool = Field(default=False, description="the backup's answer was used")
    backups: int = Field(default=0, description="backup calls started: 2 if the first hung too")
    extra_prompt_tokens: int = Field(default=0, description="spent on a cancelled copy")
    extra_completion_tokens: int = Field(default=0, description="spent on a cancelled copy")
    rate_limited: int = Field(default=0, description="attempts answered 429")
    call_start_s: float | None = Field(
        default=None, description="when the answered call was sent, after any wait for room"
    )
    repair: bool = Field(default=False, description="a repair pass call, in a group of its own")
    first_token_s: float | None = Field(
        default=None, description="when the answered call's first token arrived; none: unknown"
    )
    summary_s: float | None = Field(
        default=None,
        description="when the summary was known (released to later scenes, if pipelined)",
    )
    runaways: int = Field(default=0, description="copies cut off as runaway answers")

    @property
    def time_to_summary_s(self) -> float | None:
        """From the scene's first call to its summary being known; none if it did not
        stream. Counted from the first attempt (its service time starts there too), since
        an attempt that failed may have released the summary already."""
        if self.summary_s is None:
            return None
        return min(self.service_s, max(0.0, self.summary_s - (self.end_s - self.service_s)))


class RunMeta(BaseModel):
    run_id: str = ""
    backend: str
    model: str
    strategy: StrategyName
    concurrency: int
    lag_allowance: int | None = None
    wall_time_s: float = 0.0
    started_at: float | None = Field(
        default=None, description="Unix time of the timeline's zero, for runs compared in time"
    )
    outline_start_s: float | None = None
    outline_end_s: float | None = None
    outline_prompt_tokens: int = 0
    outline_completion_tokens: int = 0
    bible_start_s: float | None = None
    bible_end_s: float | None = None
    bible_prompt_tokens: int = 0
    bible_completion_tokens: int = 0
    repair_calls: int = Field(default=0, description="scene calls of the repair pass")
    findings_before: dict[str, int] | None = Field(
        default=None, description="findings by kind before the repair pass; none: no repair"
    )
    flagged_scenes: int = Field(default=0, description="scenes a repair call could fix, before")
    repaired_scenes: int = Field(default=0, description="scenes a repair call replaced")
    timeline: list[SceneTiming] = Field(default_factory=list)
    stream_note: str | None = Field(
        default=None, description="why the answers could not stream, when they could not"
    )
    concurrency_trace: list[tuple[float, int]] = Field(
        default_factory=list, description="adaptive runs: (seconds, calls allowed) per change"
    )
    plateau: int | None = Field(
        default=None,
        description="calls in flight beyond which the server did not get faster (adaptive "
        "runs); none: not seen",
    )

    @property
    def prompt_tokens(self) -> int:
        """Every token paid for, a cancelled backup's (or primary's) included."""
        scenes = sum(t.prompt_tokens + t.extra_prompt_tokens for t in self.timeline)
        return self.outline_prompt_tokens + self.bible_prompt_tokens + scenes

    @property
    def completion_tokens(self) -> int:
        scenes = sum(t.completion_tokens + t.extra_completion_tokens for t in self.timeline)
        return self.outline_completion_tokens + self.bible_completion_tokens + scenes

    @property
    def hedges(self) -> int:
        """Backup calls; a timing written before ``backups`` was kept says only ``hedged``."""
        return sum(max(t.backups, int(t.hedged)) for t in self.timeline)

    @property
    def extra_calls(self) -> float:
        """Backup calls as a share of all scene calls (attempts), 0 without hedging."""
        return self.hedges / max(1, sum(t.attempts for t in self.timeline))

    @property
    def rate_limited(self) -> int:
        return sum(t.rate_limited for t in self.timeline)

    @property
    def runaways(self) -> int:
        return sum(t.runaways for t in self.timeline)

    @property
    def mean_time_to_summary_s(self) -> float | None:
        """Over the scenes as first written that streamed; none when none did."""
        times = [t.time_to_summary_s for t in self.timeline if not t.repair]
        known = [x for x in times if x is not None]
        return sum(known) / len(known) if known else None

    @property
    def streamed_scenes(self) -> int:
        return sum(t.summary_s is not None for t in self.timeline if not t.repair)

    @property
    def final_concurrency(self) -> int:
        return self.concurrency_trace[-1][1] if self.concurrency_trace else self.concurrency
