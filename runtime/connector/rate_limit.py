"""What an answer's headers say about the quota, and how long to wait after a 429."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

_YEAR: Final = 365 * 86_400


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _retry_after(value: str | None, now: datetime | None) -> float | None:
    """``Retry-After`` in seconds: either a number of seconds or an HTTP date."""
    seconds = _number(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - (now or datetime.now(UTC))).total_seconds()


def _seconds(reset: float | None, now: float | None) -> float | None:
    """A reset larger than a year of seconds is an epoch time, not a duration."""
    if reset is None:
        return None
    if reset > _YEAR:
        reset -= time.time() if now is None else now
    return max(0.0, reset)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What a response's headers say about the quota; None where a header is absent or unreadable.

    ``reset`` is ``X-RateLimit-Reset`` as sent (seconds until the reset, or an epoch time);
    ``retry_after`` is ``Retry-After`` in seconds (an HTTP date is converted).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], *, now: datetime | None = None) -> RateLimit:
        """Read ``X-RateLimit-Limit/Remaining/Reset`` and ``Retry-After`` (any letter case)."""
        lower = {key.lower(): value for key, value in headers.items()}
        limit = _number(lower.get("x-ratelimit-limit"))
        remaining = _number(lower.get("x-ratelimit-remaining"))
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset=_number(lower.get("x-ratelimit-reset")),
            retry_after=_retry_after(lower.get("retry-after"), now),
        )

    def reset_seconds(self, *, now: float | None = None) -> float | None:
        """Seconds until the quota resets, or None (``now`` defaults to the current time)."""
        return _seconds(self.reset, now)

    def wait(self, *, now: float | None = None) -> float | None:
        """Seconds to wait after a 429: ``Retry-After``, else until the reset, else None."""
        if self.retry_after is not None:
            return max(0.0, self.retry_after)
        return _seconds(self.reset, now)

    @property
    def known(self) -> bool:
        """Whether any of the headers was present."""
        return any(
            v is not None for v in (self.limit, self.remaining, self.reset, self.retry_after)
        )
