"""A throwaway Redis server for the tests: ``redis-server`` on a free loopback port.

The server keeps its data in a temporary folder (append-only file on, so that a restart of the
same server keeps what it had, as a production server configured for durability does), listens
on 127.0.0.1 only and is shut down with the session. Without the binary or the client library
the tests that need it skip with the reason, or fail under ``CI`` (where ``.ci/run`` installs
them).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres_server import free_port

_databases = itertools.count(0)


def unavailable(reason: str) -> None:
    """Skip the test needing the server, or fail it under ``CI``."""
    if os.environ.get("CI"):
        pytest.fail(f"Redis tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"Redis tests skipped: {reason}")


@dataclass
class RedisServer:
    """A running ``redis-server``; :meth:`url` names one of its logical databases."""

    folder: Path
    binary: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def new_url(self) -> str:
        """A URL on a logical database no other test of this session has used (16 of them,
        then the next test flushes the one it reuses)."""
        return self.url(next(_databases) % 16)

    def start(self) -> None:
        """Start (or restart, keeping the append-only file) the server; wait until it answers."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "no",
                "--save",
                "",
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.folder / "server.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING within 30 s")

    def kill(self) -> None:
        """``kill -9`` the server (its append-only file stays for :meth:`start`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> RedisServer:
    """A new running server, or skip/fail (see :func:`unavailable`) when none can start."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("no redis-server on PATH (apt-get install redis-server)")
    assert binary is not None
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        unavailable("the redis client is not installed (pip install 'flowmixer[redis]')")
    folder = Path(tempfile.mkdtemp(prefix="flowmixer-redis-"))
    server = RedisServer(folder, binary, free_port())
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        log = folder / "server.log"
        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        server.stop()
        unavailable(f"the server did not start: {exc} {tail}".strip())
    return server


async def fresh_database(server: RedisServer) -> str:
    """The URL of an empty logical database on ``server``."""
    import redis.asyncio as redis

    url = server.new_url()
    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url
