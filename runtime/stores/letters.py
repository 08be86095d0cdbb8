"""Finding dead letters: the filters, pages and counts every store answers the same way."""

from __future__ import annotations

import datetime
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from runtime.stores.base import DeadLetter

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def contains(haystack: str, needle: str) -> bool:
    """Whether ``needle`` is in ``haystack``, ignoring case (Unicode case folding)."""
    return needle.casefold() in haystack.casefold()


@dataclass(frozen=True, slots=True)
class DeadLetterQuery:
    """Which dead letters: those matching every field that is given (None matches any).

    ``since`` and ``until`` bound ``failed_at`` (seconds since the epoch; ``since`` included,
    ``until`` not). ``text`` must appear in the error, ignoring case.
    """

    flow_id: str | None = None
    component_id: str | None = None
    error_type: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """Whether ``letter`` is one of those this query asks for."""
        return (
            (self.flow_id is None or letter.flow_id == self.flow_id)
            and (self.component_id is None or letter.component_id == self.component_id)
            and (self.error_type is None or letter.error_type == self.error_type)
            and (self.since is None or letter.failed_at >= self.since)
            and (self.until is None or letter.failed_at < self.until)
            and (self.text is None or contains(letter.error, self.text))
        )


EVERY_LETTER = DeadLetterQuery()
"""The query that matches every dead letter."""


@dataclass(frozen=True, slots=True)
class DeadLetterPage:
    """One page of dead letters, newest first; ``next`` is the cursor of the following page
    (None on the last one). A cursor stays valid while letters are added or removed."""

    letters: list[DeadLetter]
    next: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterCount:
    """How many dead letters one component of one flow keeps with one error type."""

    flow_id: str
    component_id: str
    error_type: str
    count: int

    def to_dict(self) -> dict[str, str | int]:
        return {
            "flow_id": self.flow_id,
            "component_id": self.component_id,
            "error_type": self.error_type,
            "count": self.count,
        }


def check_limit(limit: int) -> None:
    """Refuse a page size below one."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def encode_cursor(failed_at: float, sequence: int) -> str:
    """The cursor after the letter that failed at ``failed_at`` and was stored ``sequence``-th.

    Letters are ordered newest first by failure time, then by the order they were stored;
    the cursor carries that position, not an offset, so pages never skip or repeat a letter.
    """
    return f"{failed_at!r}~{sequence}"


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The position a cursor from :func:`encode_cursor` names; ``ValueError`` if it is not one."""
    failed_at, sep, sequence = cursor.partition("~")
    try:
        if not sep:
            raise ValueError(cursor)
        return float(failed_at), int(sequence)
    except ValueError:
        raise ValueError(
            f"the cursor {cursor!r} is not one this store gave (use the 'next' of a page)"
        ) from None


def parse_time(text: str, name: str, *, now: float | None = None) -> float:
    """Seconds since the epoch of a time given as ISO 8601 (UTC unless it says otherwise),
    as epoch seconds, or as an age before ``now`` (``30m``, ``2h``, ``7d``, ``1w``).

    ``ValueError`` names the option or parameter ``name`` and the forms it accepts.
    """
    value = text.strip()
    age = _AGE.match(value)
    if age:
        return (time.time() if now is None else now) - float(age[1]) * _SECONDS[age[2]]
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{name}: {text!r} is not a time; give an ISO 8601 time (2026-11-29T08:00:00Z),"
            " seconds since the epoch, or an age such as 30m, 2h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
