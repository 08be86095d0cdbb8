"""A scripted HTTP service on 127.0.0.1 for the connector SDK's tests (not the emulator).

Each route answers from a script, one answer per request (the last one again when the script
runs out), so a test can say "401, then 200" or "429 with Retry-After, then 200"; every request
is recorded with its headers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from runtime.connector import Connector
from runtime.errors import ReauthorizeError

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACME = Connector(service="acme:widgets", label="Widgets")
"""A connector of no real service: the default error table, no quota categories."""


def reply(
    status: int = 200,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    text: str | None = None,
) -> Reply:
    """An answer: ``body`` as JSON, or ``text`` as it is, or nothing."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if text is not None:
            return web.Response(status=status, text=text, headers=headers)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    return handle


async def drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering."""
    assert request.transport is not None
    request.transport.abort()
    return web.Response()


def echo_authorization(status: int) -> Reply:
    """An error answer whose message repeats the Authorization header it got."""

    async def handle(request: web.Request) -> web.StreamResponse:
        got = request.headers.get("Authorization", "")
        return web.json_response({"code": "bad", "message": f"refused {got}"}, status=status)

    return handle


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LoopbackService:
    """Routes ``(method, path)`` to scripts of answers; any other request gets a 404."""

    scripts: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    base: str = ""

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.scripts[(method, path)] = list(replies)

    def requests(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if (r.method, r.path) == (method, path)]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
            )
        )
        script = self.scripts.get((request.method, request.path))
        if not script:
            return web.json_response({"code": "missing", "message": "No such route."}, status=404)
        handler = script.pop(0) if len(script) > 1 else script[0]
        return await handler(request)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoopbackService]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}/api"
        try:
            yield self
        finally:
            await runner.cleanup()


class Tokens:
    """Credentials handing out ``tokens`` in turn: each rejection moves to the next; past the
    last one, :class:`ReauthorizeError`."""

    def __init__(self, *tokens: str, account: str | None = "tester", **settings: str) -> None:
        self._tokens = list(tokens)
        self._account = account
        self._settings = dict(settings)
        self.rejected: list[str] = []

    @property
    def service(self) -> str:
        return ACME.service

    @property
    def account(self) -> str | None:
        return self._account

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings

    async def access_token(self) -> str:
        return self._tokens[0]

    async def token_rejected(self, token: str) -> None:
        self.rejected.append(token)
        if token == self._tokens[0] and len(self._tokens) > 1:
            self._tokens.pop(0)
            return
        raise ReauthorizeError("the Widgets account must be connected again")
