"""The :class:`Emulator`: one Pinterest API v5 world, served over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from aiohttp import web

from components.pinterest.emulator.app import make_app
from components.pinterest.emulator.config import EmulatorConfig
from components.pinterest.emulator.faults import Faults
from components.pinterest.emulator.images import placeholder
from components.pinterest.emulator.observe import Observer
from components.pinterest.emulator.operations import ORGANIC_SCOPES
from components.pinterest.emulator.ratelimit import RateLimiter
from components.pinterest.emulator.seed import SeedSource, populate, read_seed
from components.pinterest.emulator.server import serving
from components.pinterest.emulator.state import (
    App,
    Board,
    Pin,
    PinMedia,
    Section,
    State,
    User,
)
from components.pinterest.emulator.stats import Stats
from components.pinterest.emulator.tokens import Grants, IssuedToken


class Emulator:
    """A local Pinterest API v5 with OAuth, rate limits and fault injection.

    ::

        emu = Emulator(config=EmulatorConfig(auto_approve=True))
        async with emu.running() as base:            # "http://127.0.0.1:PORT"
            token = emu.issue_token(scopes=["boards:read"])
            ...  # call base + "/v5/boards" with "Authorization: Bearer " + token.access_token

    ``state`` holds the data, ``faults`` the fault plan in force, ``stats`` what was seen;
    ``signed_in_user`` is the user id the authorize page approves for.
    """

    def __init__(self, seed: SeedSource = None, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = self.config.clock
        self.state = State(self.clock)
        self.grants = Grants(self.state, self.config)
        self.faults = Faults(self.config.faults)
        self.limiter = RateLimiter(self.config.rate_limits, self.clock)
        self.stats = Stats(self.clock, self.config.rate_limits.window_seconds)
        self.observers: list[Observer] = []
        populate(self.state, self.grants, read_seed(seed))
        self.signed_in_user = next(iter(self.state.users))

    @property
    def app(self) -> App:
        """The first app of the seed (the demo app ``emulator-app`` by default)."""
        return next(iter(self.state.apps.values()))

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with every exchange from now on; answers a function that stops it."""
        self.observers.append(observer)
        return lambda: self.observers.remove(observer)

    def make_app(self) -> web.Application:
        return make_app(self)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on ``host:port`` (0 = a free port) while the block runs; yields the base URL."""
        async with serving(self.make_app(), host, port) as base:
            yield base

    def issue_token(
        self,
        user: str | None = None,
        scopes: Iterable[str] = ORGANIC_SCOPES,
        *,
        client_id: str | None = None,
        refreshable: bool = True,
    ) -> IssuedToken:
        """Tokens for ``user`` (id or username; default: the first user), as if the user had
        approved ``scopes`` for app ``client_id`` (default: :attr:`app`)."""
        user_id = self.state.find_user(user).id if user else self.signed_in_user
        app_id = client_id or self.app.client_id
        if app_id not in self.state.apps:
            raise LookupError(f"no app with client_id {app_id!r} in the emulator")
        return self.grants.issue(
            app_id, user_id, scopes, via="authorization_code", refreshable=refreshable
        )

    def add_user(self, username: str, *, account_type: str = "BUSINESS") -> User:
        """Another Pinterest user (a person who could approve the app)."""
        user = User(self.state.new_id(), username, account_type)
        self.state.users[user.id] = user
        return user

    def add_board(
        self,
        name: str,
        *,
        user: str | None = None,
        description: str | None = None,
        privacy: str = "PUBLIC",
    ) -> Board:
        """A board made as if the user had made it in the Pinterest app."""
        now = self.clock()
        owner = self.state.find_user(user).id if user else self.signed_in_user
        board = Board(self.state.new_id(), owner, name, now, now, description, privacy)
        self.state.boards[board.id] = board
        return board

    def add_section(self, board_id: str, name: str) -> Section:
        self._board(board_id)
        section = Section(self.state.new_id(), board_id, name)
        self.state.sections[section.id] = section
        return section

    def add_pin(
        self,
        board_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        link: str | None = None,
        alt_text: str | None = None,
        image_url: str | None = None,
        section_id: str | None = None,
        created_at: float | None = None,
    ) -> Pin:
        """A Pin made as if a person had pinned it in the Pinterest app (no API call)."""
        board = self._board(board_id)
        if section_id is not None and self.state.sections[section_id].board_id != board_id:
            raise LookupError(f"section {section_id} is not on board {board_id}")
        pin = Pin(
            id=self.state.new_id(),
            owner_id=board.owner_id,
            board_id=board_id,
            created_at=self.clock() if created_at is None else created_at,
            media=PinMedia(
                "image", image_url=image_url or placeholder(self.state, "placeholder.png")
            ),
            section_id=section_id,
            title=title,
            description=description,
            link=link,
            alt_text=alt_text,
        )
        self.state.pins[pin.id] = pin
        self.state.touch(board_id)
        return pin

    def _board(self, board_id: str) -> Board:
        board = self.state.boards.get(board_id)
        if board is None:
            raise LookupError(f"no board {board_id} in the emulator")
        return board
