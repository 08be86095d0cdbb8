"""What Pinterest answers: the objects of API v5 and the rate-limit headers of a response.

The models are loose on purpose: they name the fields the connector reads, keep every other
field (``extra="allow"``, the API adds fields over time) and require only what the API always
sends. ``model.model_dump(mode="json", exclude_none=True)`` is what components send on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

_YEAR: Final = 365 * 86_400


class PinterestModel(BaseModel):
    """Base of the API models: unknown fields are kept, names are the API's snake_case."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class UserAccount(PinterestModel):
    """The token's user (``GET /user_account``); the API marks no field as required."""

    id: str | None = None
    username: str | None = None
    account_type: str | None = None
    business_name: str | None = None
    profile_image: str | None = None
    website_url: str | None = None
    about: str | None = None
    board_count: int | None = None
    pin_count: int | None = None
    follower_count: int | None = None
    following_count: int | None = None
    monthly_views: int | None = None


class Board(PinterestModel):
    """A board; ``privacy`` is ``PUBLIC``, ``PROTECTED`` or ``SECRET``."""

    id: str
    name: str | None = None
    description: str | None = None
    privacy: str | None = None
    owner: dict[str, Any] | None = None
    created_at: str | None = None
    board_pins_modified_at: str | None = None
    pin_count: int | None = None
    follower_count: int | None = None
    collaborator_count: int | None = None
    media: dict[str, Any] | None = None


class BoardSection(PinterestModel):
    """A section of a board."""

    id: str
    name: str | None = None


class PinMedia(PinterestModel):
    """A Pin's media; the shape depends on ``media_type`` (image, video, multiple_*)."""

    media_type: str | None = None


class Pin(PinterestModel):
    """A Pin; only ``id`` is always present."""

    id: str
    created_at: str | None = None
    title: str | None = None
    description: str | None = None
    link: str | None = None
    alt_text: str | None = None
    dominant_color: str | None = None
    board_id: str | None = None
    board_section_id: str | None = None
    board_owner: dict[str, Any] | None = None
    parent_pin_id: str | None = None
    media: PinMedia | None = None
    creative_type: str | None = None
    is_owner: bool | None = None
    is_standard: bool | None = None
    has_been_promoted: bool | None = None


class MediaUpload(PinterestModel):
    """A registered video upload: POST the file to ``upload_url`` with ``upload_parameters``."""

    media_id: str
    media_type: str | None = None
    upload_url: str | None = None
    upload_parameters: dict[str, str] | None = None


class Media(PinterestModel):
    """An uploaded medium; ``status`` is registered, processing, succeeded or failed."""

    media_id: str
    media_type: str | None = None
    status: str | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list: its ``items`` and the ``bookmark`` of the next page (None at the end)."""

    model_config = ConfigDict(extra="allow")

    items: list[T]
    bookmark: str | None = None


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


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What a response's headers say about the quota; None where a header is absent or unreadable.

    ``reset`` is ``X-RateLimit-Reset`` as sent (Pinterest sends seconds until the reset);
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
        """Seconds until the quota resets, or None; a ``reset`` larger than a year of seconds
        is read as an epoch time (``now`` defaults to the current one), not a duration."""
        reset = self.reset
        if reset is None:
            return None
        if reset > _YEAR:
            reset -= time.time() if now is None else now
        return max(0.0, reset)

    @property
    def known(self) -> bool:
        """Whether any of the headers was present."""
        return any(
            v is not None for v in (self.limit, self.remaining, self.reset, self.retry_after)
        )
