"""A client that goes away mid-request, over a real socket: one debug line, no traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.registry import Registry
from tests.server_kit import ADMIN_TOKEN, serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


async def send_half_and_reset(port: int, path: str, header: str) -> None:
    """Send the headers and part of a 1,000-byte body, then reset the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: flows\r\n{header}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        '{"total": '.encode()
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the route is reading the body by now
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/hooks/orders/hook", "X-Flowmixer-Hook-Secret: {secret}"),
        ("/api/flows", f"Authorization: Bearer {ADMIN_TOKEN}"),
    ],
    ids=["webhook", "admin-deploy"],
)
async def test_a_client_that_disconnects_mid_body_is_one_debug_line_not_an_error(
    tmp_path: Path,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
    path: str,
    header: str,
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        port = int(served.url.rsplit(":", 1)[1])
        with capture_logs() as logs, caplog.at_level(logging.DEBUG):
            await send_half_and_reset(port, path, header.format(secret=secret))
            for _ in range(100):  # until the server has noticed
                if any(e["event"] == "client disconnected" for e in logs):
                    break
                await asyncio.sleep(0.02)
        status, listed = await served.api("GET", "/api/flows")

    disconnected = [e for e in logs if e["event"] == "client disconnected"]
    assert disconnected == [
        {
            "event": "client disconnected",
            "log_level": "debug",
            "method": "POST",
            "path": path,
            "error": "ConnectionResetError",
        }
    ]
    assert not [e for e in logs if e["log_level"] in ("error", "critical", "warning")]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert status == 200  # the server goes on answering
    assert [flow["id"] for flow in listed["flows"]] == ["orders"]
