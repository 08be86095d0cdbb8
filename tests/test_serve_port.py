"""``flowmixer serve`` on a port it cannot have: one line naming the port and ``--port``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from runtime.cli import build_parser
from runtime.cli.bind_check import BIND_ERRORS, bind_error, check_port
from runtime.errors import ConfigurationError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_serve_on_a_busy_port_exits_1_with_one_line_naming_the_port_and_the_option(
    tmp_path: Path, busy_port: int
) -> None:
    env = {**os.environ, "FLOWMIXER_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(busy_port)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("flowmixer: ")
    assert f"port {busy_port} on 127.0.0.1 is already in use" in line
    assert "--port" in line


def test_the_port_check_refuses_a_listened_port_and_passes_once_it_is_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        with pytest.raises(ConfigurationError, match=rf"port {port} .* with --port"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)


async def test_a_port_taken_after_the_check_is_worded_the_same_when_the_server_binds(
    busy_port: int,
) -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    try:
        with pytest.raises(OSError, match="address already in use") as raised:
            await web.TCPSite(runner, "127.0.0.1", busy_port).start()
    finally:
        await runner.cleanup()
    assert raised.value.errno in BIND_ERRORS
    error = bind_error(raised.value, "127.0.0.1", busy_port)
    assert str(error).startswith(f"port {busy_port} on 127.0.0.1 is already in use")
    assert "--port" in str(error)


def test_a_host_that_does_not_resolve_is_named_with_its_option() -> None:
    with pytest.raises(ConfigurationError, match=r"--host no-such-host\.invalid: cannot resolve"):
        check_port("no-such-host.invalid", 8080)


def test_serve_and_the_emulator_do_not_share_a_default_port() -> None:
    parser = build_parser()
    serve = parser.parse_args(["serve"])
    emulate = parser.parse_args(["emulate", "pinterest"])
    assert (serve.port, emulate.port) == (8080, 8089)
