"""The emulator's starting data: a JSON document (or dict) of apps, users, boards, sections,
Pins and pre-issued tokens. ``seed.json`` next to this module is the default.

Users and boards are referred to by id (users also by username). Every field is checked before
anything is created; a broken seed raises :class:`~runtime.errors.ConfigurationError` naming
the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from components.pinterest.emulator.images import placeholder
from components.pinterest.emulator.operations import ALL_SCOPES
from components.pinterest.emulator.state import App, Board, Pin, PinMedia, Section, State, User
from components.pinterest.emulator.tokens import Grants
from runtime.errors import ConfigurationError

DEFAULT_SEED = Path(__file__).with_name("seed.json")

Digits = Annotated[str, StringConstraints(pattern=r"^\d+$")]
SeedSource = Mapping[str, Any] | str | os.PathLike[str] | None
"""A seed: a mapping, a path to a JSON file, or ``None`` for the default seed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedUser(_Strict):
    id: Digits
    username: str = Field(min_length=1)
    account_type: Literal["PINNER", "BUSINESS"] = "BUSINESS"
    business_name: str | None = None
    about: str = ""
    website_url: str = ""
    profile_image: str = ""
    follower_count: int = Field(0, ge=0)
    following_count: int = Field(0, ge=0)
    monthly_views: int = Field(0, ge=0)


class SeedApp(_Strict):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    name: str = "Emulator app"
    redirect_uris: list[str] = Field(default_factory=list)
    owner: str | None = None
    """User id or username acting for the app's client-credentials tokens (default: first user)."""


class SeedBoard(_Strict):
    id: Digits
    owner: str
    name: str = Field(min_length=1)
    description: str | None = None
    privacy: Literal["PUBLIC", "PROTECTED", "SECRET"] = "PUBLIC"
    created_at: datetime | None = None


class SeedSection(_Strict):
    id: Digits
    board_id: Digits
    name: str = Field(min_length=1, max_length=180)


class SeedPin(_Strict):
    id: Digits | None = None
    board_id: Digits
    section_id: Digits | None = None
    title: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=800)
    link: str | None = Field(None, max_length=2048)
    alt_text: str | None = Field(None, max_length=500)
    dominant_color: str | None = None
    image_url: str | None = None
    """Where the picture is; the emulator's placeholder image when absent."""
    created_at: datetime | None = None


class SeedToken(_Strict):
    user: str
    client_id: str | None = None
    scopes: list[str] = Field(min_length=1)
    access_token: str = Field(pattern=r"^pina")
    refresh_token: str | None = Field(None, pattern=r"^pinr")


class Seed(_Strict):
    apps: list[SeedApp] = Field(min_length=1)
    users: list[SeedUser] = Field(min_length=1)
    boards: list[SeedBoard] = Field(default_factory=list)
    sections: list[SeedSection] = Field(default_factory=list)
    pins: list[SeedPin] = Field(default_factory=list)
    tokens: list[SeedToken] = Field(default_factory=list)


def read_seed(source: SeedSource) -> Seed:
    """The checked seed from ``source``; ``ConfigurationError`` listing what is wrong."""
    name = "the default seed"
    if source is None or isinstance(source, str | os.PathLike):
        path = DEFAULT_SEED if source is None else Path(source)
        name = str(path)
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"seed {name}: cannot be read ({exc.strerror})") from None
        except ValueError as exc:
            raise ConfigurationError(f"seed {name}: not valid JSON ({exc})") from None
    else:
        name, data = "(given as a mapping)", dict(source)
    try:
        return Seed.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"seed {name} is invalid: {problems}") from None


def epoch(value: datetime | None, default: float) -> float:
    """A seed date-time as epoch seconds (naive values are UTC)."""
    if value is None:
        return default
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def populate(state: State, grants: Grants, seed: Seed) -> None:
    """Create the seed's records in ``state`` (references were checked by :func:`check`)."""
    check(seed)
    now = state.clock()
    for user in seed.users:
        state.reserve(user.id)
        state.users[user.id] = User(**user.model_dump())
    for app in seed.apps:
        owner = state.find_user(app.owner).id if app.owner else seed.users[0].id
        state.apps[app.client_id] = App(
            app.client_id, app.client_secret, app.name, tuple(app.redirect_uris), owner
        )
    for seed_board in seed.boards:
        state.reserve(seed_board.id)
        created = epoch(seed_board.created_at, now)
        state.boards[seed_board.id] = Board(
            id=seed_board.id,
            owner_id=state.find_user(seed_board.owner).id,
            name=seed_board.name,
            created_at=created,
            pins_modified_at=created,
            description=seed_board.description,
            privacy=seed_board.privacy,
        )
    for section in seed.sections:
        state.reserve(section.id)
        state.sections[section.id] = Section(section.id, section.board_id, section.name)
    for pin in seed.pins:
        if pin.id is not None:
            state.reserve(pin.id)
    for seed_pin in seed.pins:
        board = state.boards[seed_pin.board_id]
        image = seed_pin.image_url or placeholder(state, "placeholder.png")
        record = Pin(
            id=seed_pin.id or state.new_id(),
            owner_id=board.owner_id,
            board_id=board.id,
            created_at=epoch(seed_pin.created_at, now),
            media=PinMedia("image", image_url=image),
            section_id=seed_pin.section_id,
            title=seed_pin.title,
            description=seed_pin.description,
            link=seed_pin.link,
            alt_text=seed_pin.alt_text,
            dominant_color=seed_pin.dominant_color,
        )
        state.pins[record.id] = record
        board.pins_modified_at = max(board.pins_modified_at, record.created_at)
    for token in seed.tokens:
        grants.issue(
            token.client_id or seed.apps[0].client_id,
            state.find_user(token.user).id,
            token.scopes,
            via="authorization_code",
            refreshable=token.refresh_token is not None,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
        )


def check(seed: Seed) -> None:
    """Refuse references to users, apps, boards, sections or scopes the seed does not have."""
    users = {u.id for u in seed.users} | {u.username for u in seed.users}
    apps = {a.client_id for a in seed.apps}
    boards = {b.id for b in seed.boards}
    sections = {s.id: s.board_id for s in seed.sections}
    problems = [
        f"apps[{n}].owner: no user {a.owner!r}"
        for n, a in enumerate(seed.apps)
        if a.owner and a.owner not in users
    ]
    problems += [
        f"boards[{n}].owner: no user {b.owner!r}"
        for n, b in enumerate(seed.boards)
        if b.owner not in users
    ]
    problems += [
        f"sections[{n}].board_id: no board {s.board_id}"
        for n, s in enumerate(seed.sections)
        if s.board_id not in boards
    ]
    for n, pin in enumerate(seed.pins):
        if pin.board_id not in boards:
            problems.append(f"pins[{n}].board_id: no board {pin.board_id}")
        if pin.section_id is not None and sections.get(pin.section_id) != pin.board_id:
            problems.append(f"pins[{n}].section_id: no section {pin.section_id} on its board")
    for n, token in enumerate(seed.tokens):
        if token.user not in users:
            problems.append(f"tokens[{n}].user: no user {token.user!r}")
        if token.client_id is not None and token.client_id not in apps:
            problems.append(f"tokens[{n}].client_id: no app {token.client_id!r}")
        unknown = sorted(set(token.scopes) - ALL_SCOPES)
        if unknown:
            problems.append(f"tokens[{n}].scopes: unknown scope(s) {', '.join(unknown)}")
    if problems:
        raise ConfigurationError("seed is invalid: " + "; ".join(problems))
