"""What happens to a message that failed, when it is tried again, and when to give up.

This is the one place a failure becomes a next step: :func:`next_step` for the engine (by the
error's class), :class:`RetryPolicy` for when, and :class:`RateLimitWaits` for whether a call
answered 429 waits and sends again itself before handing the wait to the engine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal

from runtime.errors import CancelError, DeferError, ReauthorizeError, RetryError

NextStep = Literal["retry", "wait", "dead-letter", "re-authorize"]
"""What the engine does with a failed message: deliver it again (using an attempt), wait
(using no attempt, only the flow's time limit), bury it, or park it until the account is
connected again."""


def step_for(error: type[BaseException]) -> NextStep:
    """The next step after an error of class ``error``; any class not ours is retried."""
    if issubclass(error, ReauthorizeError):
        return "re-authorize"
    if issubclass(error, CancelError):
        return "dead-letter"
    if issubclass(error, DeferError):
        return "wait"
    return "retry"


def next_step(exc: BaseException) -> NextStep:
    """The next step after ``exc``: by its class, and a wait for a :class:`RetryError` marked
    ``outage`` (its service is down, not the message at fault)."""
    step = step_for(type(exc))
    if step == "retry" and isinstance(exc, RetryError) and exc.outage:
        return "wait"
    return step


UNHINTED_429_WAIT: Final = 5.0
"""Seconds to hold a quota after a 429 that says neither ``Retry-After`` nor a reset."""


@dataclass(frozen=True, slots=True)
class RateLimitWaits:
    """Whether a call answered 429 waits and sends again within the call.

    A call is sent at most ``tries`` times; it waits inside the call only for a wait no longer
    than its quota's ``max_wait``; otherwise the 429 goes to the engine, which delivers the
    message again after the wait (a ``wait`` step). ``unhinted`` is the wait of a 429 that
    gives none.
    """

    tries: int = 3
    unhinted: float = UNHINTED_429_WAIT

    def wait_of(self, hinted: float | None) -> float:
        """The wait after a 429 that asked for ``hinted`` seconds (None: it did not say)."""
        return self.unhinted if hinted is None else hinted

    def waits_inside(self, tried: int, wait: float, max_wait: float) -> bool:
        """Whether the call, sent ``tried`` times, waits ``wait`` seconds and sends again."""
        return tried < self.tries and wait <= max_wait


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do with a message that failed: try again after ``delay`` seconds, or give up.

    ``delay`` is None to give up. ``why`` says why when the retry time limit, not the attempt
    limit, made the decision (the last error alone explains running out of attempts).
    """

    delay: float | None
    why: str | None = None

    @property
    def retry(self) -> bool:
        return self.delay is not None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for at most ``max_attempts`` deliveries and at
    most ``max_elapsed`` seconds (None: no time limit) after the first failed delivery.

    The n-th retry waits a random time in ``[0, min(max_delay, base_delay * 2 ** (n - 1))]``
    ("full jitter"), which spreads retries of many messages that failed together. The time
    limit counts from the first failure, not from the message's creation, so that a message
    that waited long in a queue (behind a backlog, or while the process was down) still gets
    its retries.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_elapsed: float | None = 3600.0

    def should_retry(self, attempt: int) -> bool:
        """Whether a message that failed on delivery ``attempt`` (1-based) gets another one."""
        return attempt < self.max_attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed delivery ``attempt`` before the next one."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)

    def decide(
        self,
        attempt: int,
        elapsed: float,
        *,
        requested: float | None = None,
        deferred: bool = False,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """Whether and when to deliver again a message whose delivery ``attempt`` failed,
        ``elapsed`` seconds after its first failure.

        ``requested`` is a wait the failure asked for (a :class:`~runtime.errors.RetryError`'s
        ``delay``, e.g. a rate limit's reset): it is kept as it is, so when it would end past
        the time limit the message is given up now rather than after a pointless wait. The
        policy's own backoff is shortened instead, so that the last retry fits the limit.
        A ``deferred`` delivery (waiting for a rate limit) does not use an attempt: only the
        time limit applies to it.
        """
        if not deferred and not self.should_retry(attempt):
            return RetryDecision(None)
        delay = self.delay(attempt, rng) if requested is None else max(0.0, requested)
        if self.max_elapsed is None:
            return RetryDecision(delay)
        remaining = self.max_elapsed - elapsed
        limit = f"the flow's retry time limit (maxElapsed) of {self.max_elapsed:g} s"
        if remaining <= 0:
            return RetryDecision(None, f"{limit} is spent after {attempt} attempt(s)")
        if requested is not None and delay > remaining:
            return RetryDecision(
                None,
                f"the wait of {delay:g} s it asked for would end past {limit}"
                f" ({remaining:.3g} s left after {attempt} attempt(s))",
            )
        return RetryDecision(min(delay, remaining))


DEFAULT_RATE_LIMIT_WAITS: Final = RateLimitWaits()
"""Three tries, 5 s for a 429 that gives no wait."""
