"""What a retry or a deferral says in the log, so a failing flow is visible at the default level.

A retry (the handler failed; the message is tried again after a backoff) is one ``info`` line
with the reason and the delay: retries are bounded by the retry policy's attempts, so these
lines cannot outnumber the messages by more than that factor.

A deferral (a quota wait, a 429, an open circuit) is different: in a 429 storm every message
is deferred again and again, and a line each would drown the log. Each deferral is logged at
``debug``; at ``info`` a component says at most once a minute how many messages it deferred
since its last such line, with the latest reason and delay (the first deferral after a quiet
minute is said at once, so a flow that starts waiting says why). A circuit also logs once when
it opens (:mod:`runtime.circuit`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.envelope import Envelope

DEFERRAL_SUMMARY_EVERY: Final = 60.0
"""Seconds between two ``info`` lines about one component's deferrals."""


def log_retry(logger: FilteringBoundLogger, envelope: Envelope, delay: float, reason: str) -> None:
    """One line for a failed attempt that will be tried again after ``delay`` seconds."""
    logger.info(
        "retrying message",
        correlation_id=envelope.correlation_id,
        attempt=envelope.attempt,
        delay=round(delay, 3),
        error=reason,
    )


class DeferralLog:
    """The deferrals of one component: each at ``debug``, a count at ``info`` once a minute."""

    __slots__ = ("_count", "_said_at")

    def __init__(self) -> None:
        self._count = 0
        self._said_at = -math.inf

    def deferred(
        self,
        logger: FilteringBoundLogger,
        envelope: Envelope,
        delay: float,
        reason: str,
        now: float,
    ) -> None:
        """Note that ``envelope`` waits ``delay`` seconds for ``reason`` (``now``: time.time())."""
        self._count += 1
        logger.debug(
            "deferring message",
            correlation_id=envelope.correlation_id,
            delay=round(delay, 3),
            error=reason,
        )
        if now - self._said_at < DEFERRAL_SUMMARY_EVERY:
            return
        logger.info(
            "messages deferred",
            deferred=self._count,
            delay=round(delay, 3),
            error=reason,
        )
        self._count = 0
        self._said_at = now
