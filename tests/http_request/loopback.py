"""A small REST API on 127.0.0.1 for HttpRequest's tests, and everything a flow needs to call
it: the test services configured in a SQLite store, an account, credentials, quotas, an engine.

The API (below ``/v1``) records every request it gets (``Api.seen``); ``/oauth/token``
trades the refresh token ``refresh-1`` for ``fresh-token``. ``/v1/contacts/...`` accepts only
``Bearer fresh-token`` (the account starts with ``stale-token``) or the weather API key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.auth.app_config import AppConfigStore
from runtime.auth.resolution import AccountCredentials
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.vault import TokenSet, TokenVault
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.quota import Quotas
from runtime.quota_rules import configured_rules
from runtime.stores.sqlite import SQLiteStore
from tests.http_request import kit

API_KEY = "wx-live-8c1d6e0f5a7b"
CLIENT_SECRET = "crm-client-secret-77aa1"
FAST_RETRY = {"maxAttempts": 4, "baseDelay": 0.01, "maxDelay": 0.02}


@dataclass
class Seen:
    """One request as the API received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Api:
    """The loopback API's record and its per-test knobs."""

    seen: list[Seen] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # path -> answers still to fail
    elsewhere: list[Seen] = field(default_factory=list)  # what reached the other host
    other_origin: str = ""

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


async def _record(request: web.Request, into: list[Seen]) -> Seen:
    seen = Seen(
        request.method,
        request.path,
        list(request.query.items()),
        dict(request.headers),
        await request.read(),
        time.monotonic(),
    )
    into.append(seen)
    return seen


def _authorized(seen: Seen) -> bool:
    return seen.headers.get("Authorization") == "Bearer fresh-token" or (
        seen.headers.get("X-Api-Key") == API_KEY
    )


def build_app(api: Api) -> web.Application:
    async def token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        api.token_requests.append({k: str(v) for k, v in form.items()})
        if form.get("refresh_token") != "refresh-1":
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {
                "access_token": "fresh-token",
                "refresh_token": "refresh-1",
                "expires_in": 3600,
                "token_type": "bearer",
            }
        )

    async def contact(request: web.Request) -> web.Response:
        seen = await _record(request, api.seen)
        if not _authorized(seen):
            return web.json_response({"message": "bad token"}, status=401)
        return web.json_response({"id": request.match_info["id"], "name": "Ann"})

    async def echo(request: web.Request) -> web.Response:
        seen = await _record(request, api.seen)
        return web.json_response({"method": seen.method, "ok": True})

    async def text(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        return web.Response(text="plain words", content_type="text/plain")

    async def not_json(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def missing(request: web.Request) -> web.Response:
        seen = await _record(request, api.seen)
        # a server may echo the credential it got
        given = seen.headers.get("X-Api-Key") or seen.headers.get("Authorization", "")
        return web.json_response({"message": f"no such thing; key was {given}"}, status=404)

    async def flaky(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        left = api.failures.get(request.path, 0)
        if left:
            api.failures[request.path] = left - 1
            return web.json_response({"message": "try later"}, status=503)
        return web.json_response({"done": True})

    async def limited(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        left = api.failures.get(request.path, 0)
        if left:
            api.failures[request.path] = left - 1
            return web.json_response(
                {"message": "slow down"}, status=429, headers={"Retry-After": "1"}
            )
        return web.json_response({"done": True})

    async def big(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        return web.Response(body=b'"' + b"x" * 5000 + b'"', content_type="application/json")

    async def away(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        raise web.HTTPFound(f"{api.other_origin}/landing")

    async def home(request: web.Request) -> web.Response:
        await _record(request, api.seen)
        raise web.HTTPFound("/v1/echo")

    app = web.Application()
    app.router.add_post("/oauth/token", token)
    app.router.add_get("/v1/contacts/{id}", contact)
    app.router.add_route("*", "/v1/echo", echo)
    app.router.add_get("/v1/text", text)
    app.router.add_get("/v1/not-json", not_json)
    app.router.add_get("/v1/missing", missing)
    app.router.add_get("/v1/flaky", flaky)
    app.router.add_get("/v1/limited", limited)
    app.router.add_get("/v1/big", big)
    app.router.add_get("/v1/away", away)
    app.router.add_get("/v1/home", home)
    return app


def other_app(api: Api) -> web.Application:
    async def landing(request: web.Request) -> web.Response:
        await _record(request, api.elsewhere)
        return web.json_response({"landed": True})

    app = web.Application()
    app.router.add_get("/landing", landing)
    return app


@dataclass
class Stack:
    """A running API, a store with the test services configured, and an engine."""

    api: Api
    base: str
    store: SQLiteStore
    engine: Engine
    credentials: AccountCredentials
    quotas: Quotas
    outputs: list[Output]

    async def run(self, properties: dict[str, Any], *events: Any, **extra: Any) -> list[Output]:
        """Start a flow of one HttpRequest with ``properties``, push ``events``, wait until
        every message is handled; the outputs of this flow."""
        flow = kit.flow(properties, **{"retry": FAST_RETRY, **extra})
        plan = validate_flow(flow, kit.registry())
        await self.engine.start_flow(plan)
        for event in events:
            await self.engine.push(plan.id, "hook", event)
        await self.engine.wait_idle(plan.id)
        return [o for o in self.outputs if o.flow_id == plan.id]

    async def dead_letters(self) -> list[Any]:
        return await self.store.list_dead_letters()


@asynccontextmanager
async def stack(tmp_path: Any, *, weather_key: str | None = API_KEY) -> AsyncIterator[Stack]:
    """The API and a configured engine; the account ``sales`` of acme:crm holds a stale
    access token that the API refuses (a refresh gets a good one)."""
    api = Api()
    registry = kit.registry()
    async with (
        TestServer(build_app(api), host="127.0.0.1") as server,
        TestServer(other_app(api), host="127.0.0.1") as other,
        await SQLiteStore.open(tmp_path / "flowmixer.db") as store,
        aiohttp.ClientSession() as session,
    ):
        api.other_origin = str(other.make_url("")).rstrip("/")
        base = str(server.make_url("")).rstrip("/")
        box = SecretBox([generate_key()])
        config = AppConfigStore(store, box, registry.services(), environ={})
        await config.set(
            "acme:crm",
            {
                "clientId": "crm-app",
                "clientSecret": CLIENT_SECRET,
                "apiBase": f"{base}/v1",
                "tokenUrl": f"{base}/oauth/token",
            },
        )
        weather = {"apiBase": f"{base}/v1"}
        if weather_key is not None:
            weather["apiKey"] = weather_key
        await config.set("acme:weather", weather)
        vault = TokenVault(store, box)
        stale = TokenSet("stale-token", "refresh-1", time.time() + 3600, None, ("contacts:read",))
        await vault.save("acme:crm", "sales", stale)
        credentials = await AccountCredentials.create(registry, config, vault, session, environ={})
        quotas = Quotas(await configured_rules(registry.services(), config))
        outputs: list[Output] = []
        async with Engine(
            store, credentials=credentials, quotas=quotas, on_output=outputs.append
        ) as engine:
            yield Stack(api, base, store, engine, credentials, quotas, outputs)
        await asyncio.sleep(0)
