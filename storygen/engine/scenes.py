"""A scene's call with retries, the timing it leaves, and the groups (batches, waves) that
scenes finish."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from storygen.core.errors import RateLimitedError, RunawayError
from storygen.core.models import SceneTiming
from storygen.core.tasks import SceneTask
from storygen.engine.admission import Layer, Limit, through
from storygen.engine.attempts import Answer, Attempt
from storygen.engine.events import BatchFinished, SceneRetrying, Subscriber
from storygen.engine.release import Release
from storygen.policies.retry import RetryPolicy, call_with_retries
from storygen.scheduling.strategies import Strategy


@dataclass(frozen=True)
class Sent:
    """How a scene's call went, over its attempts."""

    answer: Answer
    attempts: int
    first_s: float  # the first attempt was sent, after any wait for room
    last_s: float  # the answered attempt was sent, likewise
    ticket: int  # the limit's number for the answered attempt
    rate_limited: int  # attempts answered 429
    runaways: int = 0  # attempts cut off as runaway answers
    release: Release | None = None  # what its streamed copies told, and when


class NotStarted(Exception):
    """A first call that got its slot once the run could start no more calls (its spend
    cap was reached while it waited, behind other runs sharing the budget): it was not
    sent, and the scene is neither written nor failed."""


def _go() -> bool:
    return True


class SceneCalls:
    """A scene's call with retries; every attempt passes the layers first."""

    def __init__(
        self,
        policy: RetryPolicy,
        layers: Sequence[Layer],
        limit: Limit,
        attempt: Attempt,
        clock: Callable[[], float],
        emit: Subscriber,
    ) -> None:
        self.policy, self.layers, self.limit = policy, through(layers), limit
        self.attempt, self.clock, self.emit = attempt, clock, emit

    async def send(
        self,
        task: SceneTask,
        start: float,
        release: Release | None = None,
        starting: Callable[[], bool] = _go,
    ) -> Sent:
        """``release``: given for a streaming backend; an attempt after the summary was
        released is told it (pinned). ``starting`` is asked once the first attempt holds
        its slot, the moment the scene really starts: False raises NotStarted, no call
        made. Retries are not asked: their scene is already partly paid for."""
        first = last = start
        ticket = rate_limited = runaways = 0

        async def call(attempt: int, feedback: str | None) -> Answer:
            nonlocal first, last, ticket
            async with self.layers.slot():
                if attempt == 1 and not starting():
                    raise NotStarted(task.index)
                last = self.clock()  # after the layers: waiting for room is not call time
                ticket = self.limit.started()
                if attempt == 1:
                    first = last
                if release is None:
                    return await self.attempt(task, attempt, feedback, None)
                release.attempt_started()
                told = release.pinned(task)
                return await self.attempt(told, attempt, feedback, release.events())

        def on_retry(attempt: int, exc: BaseException, wait: float) -> None:
            nonlocal rate_limited, runaways
            if isinstance(exc, RateLimitedError):
                rate_limited += 1
                self.limit.rate_limited(wait)
            runaways += isinstance(exc, RunawayError)
            self.emit(SceneRetrying(task.index, attempt, str(exc), wait))

        answer, attempts = await call_with_retries(self.policy, call, on_retry)
        rate = answer.generation.rate
        if rate is not None:
            self.limit.observed(rate)
        return Sent(answer, attempts, first, last, ticket, rate_limited, runaways, release)


def scene_timing(
    task: SceneTask, group: int, start: float, end: float, lag: int, sent: Sent
) -> SceneTiming:
    answer, context = sent.answer, task.context
    first_token, told = sent.release.times() if sent.release else (None, None)
    gen, backups, backup_after = answer.generation, answer.backups, answer.backup_after_s
    return SceneTiming(
        index=task.index,
        group=group,
        start_s=start,
        end_s=end,
        attempts=sent.attempts,
        context_lag=lag,
        context_size=len(context.previous),
        had_outline=context.outline is not None,
        prompt_tokens=gen.prompt_tokens,
        completion_tokens=gen.completion_tokens,
        service_s=(sent.last_s - sent.first_s) + answer.took(end - sent.last_s),
        call_start_s=sent.last_s,
        hedged=backups > 0,
        hedge_start_s=None if backup_after is None else sent.last_s + backup_after,
        hedge_won=answer.backup_won,
        backups=backups,
        # the other copies were cancelled: their tokens are unknown, so count the winner's
        extra_prompt_tokens=gen.prompt_tokens * backups,
        extra_completion_tokens=gen.completion_tokens * backups,
        rate_limited=sent.rate_limited,
        runaways=sent.runaways,
        first_token_s=first_token,
        summary_s=told,
    )


class Groups:
    """Per group, when it started and its scenes still to write: counted when the group
    starts, since an adaptive run's batches form only as it goes."""

    def __init__(self, strategy: Strategy, total: int, done: Container[int]) -> None:
        self.strategy, self.total, self.done = strategy, total, done
        self._left: dict[int, int] = {}
        self._start: dict[int, float] = {}

    def started(self, k: int, at: float) -> int:
        """Scene k's group, which starts with its first scene."""
        group = self.strategy.group(k)
        self._start.setdefault(group, at)
        if group not in self._left:  # its first scene: none of it is written in this run
            members = self.strategy.members(group)
            self._left[group] = sum(1 for i in members if i <= self.total and i not in self.done)
        return group

    def finished(self, group: int, at: float) -> BatchFinished | None:
        """A scene of ``group`` is done; the group's event when it was the last."""
        self._left[group] -= 1
        if self._left[group]:
            return None
        return BatchFinished(group, self._start[group], at)
