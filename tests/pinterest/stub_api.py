"""Test doubles: a scripted HTTP server on 127.0.0.1, credentials, a node for contexts.

The emulator answers as Pinterest does; this stub answers as a test tells it to, so a test can
send what a well-behaved API never would: a repeated bookmark, an HTML error page, a dropped
connection, a server echoing the token.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from runtime.component import Context, State
from runtime.errors import ReauthorizeError
from runtime.stores.memory import MemoryStore
from runtime.telemetry import NO_TELEMETRY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    """One request the stub received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def answer(
    status: int = 200,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> Handler:
    """A handler that always gives the same answer (``raw`` bytes instead of JSON if given)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if raw is not None:
            return web.Response(status=status, body=raw, headers=headers, content_type=content_type)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    return handle


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering."""
    assert request.transport is not None
    request.transport.abort()
    return web.Response()


def pages(*bodies: Any) -> Handler:
    """Answers ``bodies`` one after the other (the last one again when they run out)."""
    remaining = list(bodies)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return web.json_response(body)

    return handle


@dataclass
class StubApi:
    """Routes ``(method, path below /v5)`` to handlers; anything else gets Pinterest's 404."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix("/v5")
        self.seen.append(
            Seen(
                request.method,
                path,
                list(request.query.items()),
                dict(request.headers),
                await request.read(),
            )
        )
        handler = self.routes.get((request.method, path))
        if handler is None:
            return web.json_response({"code": 404, "message": "Not found."}, status=404)
        return await handler(request)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StubApi]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}/v5"
        try:
            yield self
        finally:
            await runner.cleanup()


class SwappingCredentials:
    """Hands out ``tokens`` in turn: each rejection moves to the next; past the last one,
    :class:`ReauthorizeError`. Counts what the client asked for."""

    def __init__(self, *tokens: str, settings: Mapping[str, str] | None = None) -> None:
        self._tokens = list(tokens)
        self._settings = dict(settings or {})
        self.token_requests = 0
        self.rejected: list[str] = []

    @property
    def service(self) -> str:
        return "acme:pinterest"

    @property
    def account(self) -> str | None:
        return "tester"

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings

    async def access_token(self) -> str:
        self.token_requests += 1
        return self._tokens[0]

    async def token_rejected(self, token: str) -> None:
        self.rejected.append(token)
        if token == self._tokens[0] and len(self._tokens) > 1:
            self._tokens.pop(0)
            return
        raise ReauthorizeError("the Pinterest account must be connected again")


class RecordingNode:
    """What a :class:`~runtime.component.Context` needs from the engine; ``sent`` records every
    ``send`` as ``(port, payload)``."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        auth: Any = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.flow_id = "flow"
        self.component_id = "pinterest"
        self.properties: Mapping[str, Any] = dict(properties or {})
        self.state = State(MemoryStore(), self.flow_id, self.component_id)
        self.auth = auth
        self.telemetry = NO_TELEMETRY
        self.quotas = None
        self.circuits = None
        self.logger = structlog.get_logger("test")
        self.sent: list[tuple[str, Any]] = []
        self._session = session

    def http(self) -> aiohttp.ClientSession:
        assert self._session is not None, "this test gave the node no HTTP session"
        return self._session

    async def emit(self, context: Context, payload: Any, port: str) -> None:
        self.sent.append((port, payload))

    def context(self) -> Context:
        return Context(self)
