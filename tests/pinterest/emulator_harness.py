"""A running emulator for tests, with every ``/v5`` exchange checked against the spec.

:class:`EmulatorHarness` holds the emulator (manual clock), an aiohttp session, tokens on
demand and the problems the spec check found; :func:`run_emulator` starts one and fails the
test at the end if any exchange broke the description. Requests sent inside
``harness.deliberately_invalid()`` may break it (their answers may not).
"""

from __future__ import annotations

import contextlib
import json as json_module
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from components.pinterest.emulator import (
    DEFAULT_SEED,
    ORGANIC_SCOPES,
    Emulator,
    EmulatorConfig,
    Exchange,
    ManualClock,
)
from components.pinterest.emulator.seed import SeedSource
from tests.pinterest.openapi import Spec


def seeded_boards() -> dict[str, str]:
    """Name by id of the boards in the default seed (the demo account may gain boards)."""
    seed = json_module.loads(DEFAULT_SEED.read_text(encoding="utf-8"))
    return {board["id"]: board["name"] for board in seed["boards"]}


START = 1_735_689_600.0
"""The manual clock's start: 2025-01-01T00:00:00 UTC (after the seed's dates)."""


@dataclass(frozen=True)
class Answer:
    """A response as tests read it: status, decoded body (JSON, else text) and headers."""

    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class EmulatorHarness:
    """A running emulator plus what tests need around it."""

    def __init__(self, emu: Emulator, base: str, session: aiohttp.ClientSession, spec: Spec | None):
        self.emu = emu
        self.base = base
        self.api = base + "/v5"
        self.session = session
        self.spec = spec
        self.exchanges: list[Exchange] = []
        self.problems: list[str] = []
        self.excused: list[str] = []
        self._lenient = 0
        self._default_token: str | None = None

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.emu.clock, ManualClock)
        return self.emu.clock

    def token(self, scopes: Iterable[str] = ORGANIC_SCOPES, user: str | None = None) -> str:
        """A fresh access token of ``user`` (default: the seed's first user)."""
        return self.emu.issue_token(user, scopes).access_token

    def auth(
        self, scopes: Iterable[str] = ORGANIC_SCOPES, user: str | None = None
    ) -> dict[str, str]:
        """An ``Authorization`` header with a fresh token."""
        return {"Authorization": "Bearer " + self.token(scopes, user)}

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "",
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """``method`` on ``/v5`` + ``path``; ``token=""`` sends a token with every organic
        scope, ``None`` sends no ``Authorization`` header."""
        sent = dict(headers or {})
        if token == "":
            if self._default_token is None:
                self._default_token = self.token()
            token = self._default_token
        if token is not None:
            sent["Authorization"] = "Bearer " + token
        async with self.session.request(
            method, self.api + path, json=json, params=params, headers=sent
        ) as response:
            raw = await response.read()
            body: Any = raw.decode()
            if response.content_type == "application/json":
                body = json_module.loads(raw)
            return Answer(response.status, body, response.headers)

    @contextlib.contextmanager
    def deliberately_invalid(self) -> Iterator[list[str]]:
        """Requests sent inside may break the spec; yields the problems found in them."""
        start = len(self.excused)
        self._lenient += 1
        found: list[str] = []
        try:
            yield found
        finally:
            self._lenient -= 1
            found.extend(self.excused[start:])

    def assert_spec_problems(
        self, problems: list[str], *expected: str, present: bool = True
    ) -> None:
        """The spec check found ``expected`` (exactly, when given) or some problem (or none,
        with ``present=False``); nothing is asserted when the description is absent."""
        if self.spec is None:
            return
        if expected:
            assert problems == list(expected)
        else:
            assert bool(problems) is present, problems

    def observe(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        if self.spec is None or not exchange.path.startswith("/v5/"):
            return
        request = self.spec.check_request(
            exchange.method,
            exchange.path,
            exchange.query,
            exchange.request_headers,
            exchange.request_body,
        )
        (self.excused if self._lenient else self.problems).extend(request)
        known = self.spec.find_operation(exchange.method, exchange.path) is not None
        if known and exchange.dropped != "before":
            self.problems.extend(
                self.spec.check_response(
                    exchange.method,
                    exchange.path,
                    exchange.status,
                    exchange.response_headers,
                    exchange.response_body,
                )
            )

    def assert_conformant(self) -> None:
        if self.problems:
            pytest.fail(
                "exchanges that break the OpenAPI description:\n" + "\n".join(self.problems)
            )


MakeEmulator = Callable[..., contextlib.AbstractAsyncContextManager[EmulatorHarness]]
"""The type of the ``make_emulator`` fixture."""


@contextlib.asynccontextmanager
async def run_emulator(
    spec: Spec | None, seed: SeedSource = None, **config: Any
) -> AsyncIterator[EmulatorHarness]:
    """An emulator (manual clock unless ``clock=`` is given) served while the block runs."""
    config.setdefault("clock", ManualClock(START))
    emu = Emulator(seed=seed, config=EmulatorConfig(**config))
    async with emu.running() as base, aiohttp.ClientSession() as session:
        harness = EmulatorHarness(emu, base, session, spec)
        emu.observe(harness.observe)
        yield harness
    harness.assert_conformant()
