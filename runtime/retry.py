"""When and how long to wait before a failed message is tried again, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass


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
