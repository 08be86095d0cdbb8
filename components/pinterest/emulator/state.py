"""The emulator's in-memory world: users, apps, boards, sections, Pins, media and tokens.

Records are plain mutable dataclasses kept in dicts by id; :class:`State` owns id allocation and
the few relations that several handlers need (which Pins are on a board, newest first; when a
board's Pins last changed). Times are epoch seconds from the emulator's clock.

New ids never repeat across restarts: they count up from the wall clock in nanoseconds at start
(19 digits, above the 18-digit ids of the seeds), so an emulator started later begins above
every id an earlier one handed out, and a trigger's saved state (the Pin ids it has seen) is not
fooled into skipping a new Pin that got an old id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from components.pinterest.emulator.clock import Clock

CREATIVE_TYPES: Final = {"image": "REGULAR", "video": "VIDEO", "multiple_images": "CAROUSEL"}


@dataclass(slots=True)
class User:
    id: str
    username: str
    account_type: str = "BUSINESS"
    business_name: str | None = None
    about: str = ""
    website_url: str = ""
    profile_image: str = ""
    follower_count: int = 0
    following_count: int = 0
    monthly_views: int = 0


@dataclass(slots=True)
class App:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    owner_id: str


@dataclass(slots=True)
class Board:
    id: str
    owner_id: str
    name: str
    created_at: float
    pins_modified_at: float
    description: str | None = None
    privacy: str = "PUBLIC"
    is_ads_only: bool = False
    follower_count: int = 0
    pins_oldest_first: bool = False
    """Listed oldest first, as a board a person sorted so (the API promises no order)."""


@dataclass(slots=True)
class Section:
    id: str
    board_id: str
    name: str


@dataclass(slots=True)
class Slide:
    """One image of a carousel Pin."""

    image_url: str
    title: str | None = None
    description: str | None = None
    link: str | None = None


@dataclass(slots=True)
class PinMedia:
    """What a Pin shows: ``kind`` is ``image``, ``video`` or ``multiple_images``.

    Image URLs starting with ``/`` are served by the emulator itself (decoded base64 uploads).
    """

    kind: str
    image_url: str | None = None
    slides: list[Slide] = field(default_factory=list)
    media_id: str | None = None


@dataclass(slots=True)
class Pin:
    id: str
    owner_id: str
    board_id: str
    created_at: float
    media: PinMedia
    section_id: str | None = None
    title: str | None = None
    description: str | None = None
    link: str | None = None
    alt_text: str | None = None
    dominant_color: str | None = None
    parent_pin_id: str | None = None
    is_standard: bool = True

    @property
    def creative_type(self) -> str:
        return CREATIVE_TYPES[self.media.kind]


@dataclass(slots=True)
class Media:
    """A video upload: ``registered`` until the file arrives, then ``processing``/``failed``."""

    id: str
    owner_id: str
    upload_parameters: dict[str, str]
    media_type: str = "video"
    status: str = "registered"
    uploaded_at: float | None = None
    size: int = 0

    def status_at(self, now: float, processing_seconds: float) -> str:
        """The status as a client would read it at ``now``."""
        ready = self.uploaded_at is not None and now >= self.uploaded_at + processing_seconds
        if self.status == "processing" and ready:
            self.status = "succeeded"
        return self.status


@dataclass(slots=True)
class Token:
    """An access (``pina…``) or refresh (``pinr…``) token; ``family`` ties one grant's tokens."""

    value: str
    kind: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    expires_at: float
    family: str
    via: str
    revoked: bool = False

    def usable(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass(slots=True)
class AuthorizationCode:
    """A code from the authorize page: single use, bound to its app and redirect URI."""

    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False


class State:
    """Every record of one emulator, by id."""

    def __init__(self, clock: Clock, first_id: int | None = None) -> None:
        """``first_id`` fixes where new ids start (for repeatable tests); by default the wall
        clock in nanoseconds, which a restarted emulator has moved past."""
        self.clock = clock
        self.users: dict[str, User] = {}
        self.apps: dict[str, App] = {}
        self.boards: dict[str, Board] = {}
        self.sections: dict[str, Section] = {}
        self.pins: dict[str, Pin] = {}
        self.media: dict[str, Media] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.images: dict[str, tuple[str, bytes]] = {}
        # The wall clock, not ``clock``: a test's manual clock restarts at the same time.
        self._next_id = time.time_ns() if first_id is None else first_id

    def new_id(self) -> str:
        """A fresh decimal id, larger than every id seen so far."""
        value = str(self._next_id)
        self._next_id += 1
        return value

    def reserve(self, record_id: str) -> None:
        """Note an id given by a seed, so :meth:`new_id` never hands it out again."""
        if record_id.isdigit():
            self._next_id = max(self._next_id, int(record_id) + 1)

    def find_user(self, key: str) -> User:
        """The user with id or username ``key``; ``LookupError`` naming the known ones."""
        for user in self.users.values():
            if key in (user.id, user.username):
                return user
        known = ", ".join(sorted(u.username for u in self.users.values()))
        raise LookupError(f"no user {key!r} in the emulator; known users: {known}")

    def boards_of(self, user_id: str) -> list[Board]:
        """The user's boards, oldest first."""
        return sorted(
            (b for b in self.boards.values() if b.owner_id == user_id),
            key=lambda b: (b.created_at, int(b.id)),
        )

    def pins_on_board(self, board_id: str, section_id: str | None = None) -> list[Pin]:
        """Pins on a board (all of them, sections included) or in one section, newest first
        (oldest first on a board with ``pins_oldest_first``)."""
        pins = newest_first(
            p
            for p in self.pins.values()
            if p.board_id == board_id and (section_id is None or p.section_id == section_id)
        )
        board = self.boards.get(board_id)
        return pins[::-1] if board is not None and board.pins_oldest_first else pins

    def sections_of(self, board_id: str) -> list[Section]:
        return sorted(
            (s for s in self.sections.values() if s.board_id == board_id), key=lambda s: int(s.id)
        )

    def touch(self, *board_ids: str | None) -> None:
        """Record that the Pins of these boards changed now."""
        now = self.clock()
        for board_id in board_ids:
            board = self.boards.get(board_id or "")
            if board is not None:
                board.pins_modified_at = now

    def delete_pin(self, pin_id: str) -> None:
        pin = self.pins.pop(pin_id)
        self.touch(pin.board_id)

    def delete_section(self, section_id: str) -> None:
        """Delete a section and the Pins in it (as Pinterest does)."""
        section = self.sections.pop(section_id)
        for pin in [p for p in self.pins.values() if p.section_id == section_id]:
            del self.pins[pin.id]
        self.touch(section.board_id)

    def delete_board(self, board_id: str) -> None:
        """Delete a board with its sections and Pins."""
        del self.boards[board_id]
        for section in self.sections_of(board_id):
            del self.sections[section.id]
        for pin in [p for p in self.pins.values() if p.board_id == board_id]:
            del self.pins[pin.id]


def newest_first(pins: Iterable[Pin]) -> list[Pin]:
    """``pins`` ordered by ``created_at`` descending, the larger id first on a tie."""
    return sorted(pins, key=lambda p: (p.created_at, int(p.id)), reverse=True)
