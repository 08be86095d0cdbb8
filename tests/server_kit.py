"""A real ``flowmixer serve`` server on 127.0.0.1 for the server tests, and a client for it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.brokers.sqlite import SQLiteBroker
from runtime.engine import Output
from runtime.registry import Registry
from runtime.server import Server, ServerContext
from runtime.server.assemble import assemble
from runtime.server.intake import HookIntake
from runtime.stores.sqlite import SQLiteStore

ADMIN_TOKEN = "admin-token-Zq8w-a1b2c3d4e5f6g7h8i9j0"

ORDERS: dict[str, Any] = {
    "id": "orders",
    "components": {
        "hook": {
            "type": "flowmixer.core.Webhook",
            "config": {
                "properties": {
                    "schema": {
                        "type": "object",
                        "required": ["total"],
                        "properties": {"total": {"type": "number"}},
                    }
                }
            },
        },
        "big": {
            "type": "flowmixer.core.Filter",
            "source": {"in": {"hook": ["out"]}},
            "config": {"properties": {"field": "total", "operator": "greaterThan", "value": 100}},
        },
    },
}


@dataclass
class Served:
    """A running server: its URL, parts, what left its flows, and an HTTP session."""

    url: str
    ctx: ServerContext
    session: aiohttp.ClientSession
    outputs: list[Output] = field(default_factory=list)

    def admin(self, token: str | None = ADMIN_TOKEN) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the admin API with the token; (status, decoded JSON body)."""
        async with self.session.request(
            method, self.url + path, json=body, headers=self.admin()
        ) as response:
            return response.status, await response.json()

    async def deploy(self, flow: dict[str, Any] = ORDERS, *, start: bool = True) -> str:
        """Deploy (and start) ``flow``; returns its hook secret."""
        status, body = await self.api("POST", "/api/flows", flow)
        assert status in (200, 201), body
        if start:
            status, started = await self.api("POST", f"/api/flows/{flow['id']}/start")
            assert status == 200, started
        secret: str = body["hooks"][0]["secret"]
        return secret

    async def hook(
        self, path: str, data: bytes | str, secret: str | None, *, query: bool = False
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        params = {}
        if secret is not None and query:
            params["secret"] = secret
        elif secret is not None:
            headers["X-Flowmixer-Hook-Secret"] = secret
        async with self.session.post(
            self.url + path,
            data=io.BytesIO(data.encode("utf-8") if isinstance(data, str) else data),
            headers=headers,
            params=params,
        ) as response:
            return response.status, await response.json()


@contextlib.asynccontextmanager
async def serving(
    db: Path,
    registry: Registry,
    *,
    admin_token: str | None = ADMIN_TOKEN,
    environ: dict[str, str] | None = None,
    public_url: str = "http://flows.example.test",
    queue_size: int = 1024,
    intake: HookIntake | None = None,
    durable: bool = False,
) -> AsyncIterator[Served]:
    """A server on a free port of 127.0.0.1 over the SQLite file ``db`` (with a vault and an
    app configuration store; ``environ`` stands for the process environment), queuing in
    memory unless ``durable``."""
    outputs: list[Output] = []
    box = SecretBox([generate_key()])
    async with await SQLiteStore.open(db) as store, aiohttp.ClientSession() as session:
        broker = SQLiteBroker(store) if durable else None
        ctx = await assemble(
            store,
            registry,
            box,
            session,
            admin_token=admin_token,
            public_url=public_url,
            logger=structlog.get_logger("flowmixer.server"),
            environ=environ or {},
            on_output=outputs.append,
            broker=broker,
            queue_size=queue_size,
            intake=intake,
        )
        server = Server(ctx, host="127.0.0.1", port=0)
        port = await server.start()
        try:
            yield Served(f"http://127.0.0.1:{port}", ctx, session, outputs)
        finally:
            await server.close()
            if broker is not None:
                await broker.close()  # its last writes, before the store closes
