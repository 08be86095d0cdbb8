"""What Pinterest answers: the objects of API v5.

The models are loose on purpose: they name the fields the connector reads, keep every other
field (``extra="allow"``, the API adds fields over time) and require only what the API always
sends. ``model.model_dump(mode="json", exclude_none=True)`` is what components send on.
"""

from __future__ import annotations

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
