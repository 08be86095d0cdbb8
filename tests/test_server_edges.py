"""The server's edges over real sockets: JSON too deep or with huge numbers gets a 400 saying
so, and clients that send half a request do not hold their connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.json_limits import MAX_DEPTH, MAX_NUMBER_LENGTH
from runtime.registry import Registry
from runtime.server import Server
from runtime.server.assemble import assemble
from runtime.stores.sqlite import SQLiteStore
from tests.server_kit import ADMIN_TOKEN, ORDERS, Served

HEADERS_WITHIN = 0.5
BODY_WITHIN = 0.5


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@contextlib.asynccontextmanager
async def server_with(
    tmp_path: Path, registry: Registry, **timeouts: float
) -> AsyncIterator[Served]:
    """A server on a free loopback port with the given header and body timeouts."""
    async with (
        await SQLiteStore.open(tmp_path / "flowmixer.db") as store,
        aiohttp.ClientSession() as session,
    ):
        ctx = await assemble(
            store,
            registry,
            SecretBox([generate_key()]),
            session,
            admin_token=ADMIN_TOKEN,
            public_url="http://flows.example.test",
            logger=structlog.get_logger("flowmixer.server"),
            environ={},
        )
        server = Server(ctx, host="127.0.0.1", port=0, **timeouts)
        port = await server.start()
        try:
            yield Served(f"http://127.0.0.1:{port}", ctx, session)
        finally:
            await server.close()


@pytest.fixture
async def served(tmp_path: Path, registry: Registry) -> AsyncIterator[Served]:
    async with server_with(
        tmp_path, registry, header_timeout=HEADERS_WITHIN, body_timeout=BODY_WITHIN
    ) as served:
        yield served


def nested(depth: int) -> str:
    return '{"total": 150, "deep": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def huge_number(digits: int) -> str:
    return '{"total": ' + "7" * digits + "}"


async def post(served: Served, path: str, body: str, secret: str | None) -> tuple[int, str, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
    if secret is not None:
        headers["X-Flowmixer-Hook-Secret"] = secret
    method = "PUT" if path.startswith("/api/config") else "POST"
    async with served.session.request(
        method, served.url + path, data=body.encode(), headers=headers
    ) as response:
        return response.status, response.content_type, await response.json()


ROUTES = ["/hooks/orders/hook", "/api/flows", "/api/config/acme:pinterest"]


@pytest.mark.parametrize("path", ROUTES, ids=["hook", "deploy", "config"])
async def test_json_nested_a_thousand_deep_gets_a_400_naming_the_depth_and_where(
    served: Served, path: str
) -> None:
    secret = await served.deploy(ORDERS)
    status, kind, body = await post(served, path, nested(1000), secret)
    assert (status, kind) == (400, "application/json")
    # The 65th bracket: after '{' (1) and '"deep": ' the arrays start at column 24.
    assert f"nested deeper than {MAX_DEPTH} levels at line 1 column 87" in body["error"]


@pytest.mark.parametrize("path", ROUTES, ids=["hook", "deploy", "config"])
async def test_a_number_of_5000_digits_gets_a_400_naming_the_length_and_where(
    served: Served, path: str
) -> None:
    secret = await served.deploy(ORDERS)
    status, kind, body = await post(served, path, huge_number(5000), secret)
    assert (status, kind) == (400, "application/json")
    assert (
        f"a number longer than {MAX_NUMBER_LENGTH} characters at line 1 column 11"
        in (body["error"])
    )


async def test_json_nested_up_to_the_limit_is_accepted(served: Served) -> None:
    secret = await served.deploy(ORDERS)
    status, _, body = await post(served, "/hooks/orders/hook", nested(MAX_DEPTH), secret)
    assert status == 202, body
    status, _, body = await post(served, "/hooks/orders/hook", nested(MAX_DEPTH + 1), secret)
    assert status == 400, body


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    while chunk := await reader.read(65536):
        received += chunk
    return received


async def test_half_sent_headers_get_the_connection_closed_within_the_header_timeout(
    served: Served,
) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(b"POST /hooks/orders/hook HTTP/1.1\r\nHost: flows\r\nContent-")

    async def trickle() -> None:  # a byte now and then does not extend the deadline
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                await asyncio.sleep(0.05)
                writer.write(b"x")
                await writer.drain()

    trickling = asyncio.create_task(trickle())
    received = await asyncio.wait_for(read_until_closed(reader), HEADERS_WITHIN + 10)
    waited = time.monotonic() - started
    trickling.cancel()
    writer.close()
    assert received == b""
    assert HEADERS_WITHIN * 0.9 <= waited < HEADERS_WITHIN + 5


async def test_a_half_sent_body_gets_a_408_within_the_body_timeout(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(
        b"PUT /api/config/acme:pinterest HTTP/1.1\r\nHost: flows\r\n"
        b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"clientId": '
    )
    status_line = await asyncio.wait_for(reader.readline(), BODY_WITHIN + 10)
    waited = time.monotonic() - started
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")
    assert b"Connection: close" in head
    assert b"application/json" in head
    assert BODY_WITHIN * 0.9 <= waited < BODY_WITHIN + 5


async def test_a_whole_request_still_works_after_slow_ones_were_cut_off(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    _, slow = await asyncio.open_connection(host, int(port))
    slow.write(b"GET /healthz HTTP/1.1\r\n")
    async with served.session.get(served.url + "/healthz") as response:
        assert response.status == 200
    await asyncio.sleep(HEADERS_WITHIN * 2)
    async with served.session.get(served.url + "/healthz") as response:
        assert response.status == 200  # the client's kept-alive connection was closed: a new one
    slow.close()


async def test_default_timeouts_leave_a_request_sent_at_a_normal_pace_alone(
    tmp_path: Path, registry: Registry
) -> None:
    async with server_with(tmp_path, registry) as served:
        secret = await served.deploy(ORDERS)
        status, _, body = await post(
            served, "/hooks/orders/hook", json.dumps({"total": 150}), secret
        )
    assert status == 202, body
