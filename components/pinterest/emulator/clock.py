"""Time as the emulator sees it: a function returning epoch seconds, replaceable in tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current time in epoch seconds (``time.time`` by default)."""


class ManualClock:
    """A clock that moves only when told to, so tests can expire tokens without sleeping.

    >>> clock = ManualClock(1_700_000_000.0)
    >>> clock.advance(3600)
    >>> clock()
    1700003600.0
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got advance({seconds})")
        self._now += seconds


def iso(epoch: float) -> str:
    """``epoch`` as the API writes date-times: UTC without an offset, ``2024-01-01T20:10:40``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")
