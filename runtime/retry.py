"""When and how long to wait before a failed message is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, for at most ``max_attempts`` deliveries.

    The n-th retry waits a random time in ``[0, min(max_delay, base_delay * 2 ** (n - 1))]``
    ("full jitter"), which spreads retries of many messages that failed together.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0

    def should_retry(self, attempt: int) -> bool:
        """Whether a message that failed on delivery ``attempt`` (1-based) gets another one."""
        return attempt < self.max_attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed delivery ``attempt`` before the next one."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)
