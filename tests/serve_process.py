"""``flowmixer serve`` as a child process, for the tests that kill it or run it under faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "fault-admin-token-0123456789abcdef"


class ServeProcess:
    """One ``flowmixer serve`` over the home ``home``; its log lines are kept in ``lines``.

    ``env`` adds to (or replaces) the process environment; ``cwd`` is where it runs.
    """

    def __init__(
        self, home: Path, env: Mapping[str, str], *args: str, cwd: Path | None = None
    ) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FLOWMIXER_HOME": str(home),
            "FLOWMIXER_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLOWMIXER_LOG_LEVEL": "info",
            **env,
        }
        self.args = args
        self.cwd = cwd
        self.lines: list[str] = []
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    command: tuple[str, ...] = ("serve", "--port", "0")
    """The sub-command and its options before ``args``."""
    listening_event = "server listening"
    """The log event that gives the port, once listening."""

    async def start(self, timeout: float = 30) -> str:
        """Start the server on a free port; its base URL once it listens."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            *self.command,
            *self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(listening))
        try:
            port = await asyncio.wait_for(listening, timeout)
        except (TimeoutError, AssertionError):
            await self.kill()
            raise AssertionError("the server never listened:\n" + "".join(self.lines)) from None
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def _read(self, listening: asyncio.Future[int]) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if not listening.done() and self.listening_event in line:
                listening.set_result(int(json.loads(line)["port"]))
        if not listening.done():
            listening.set_exception(
                AssertionError("the process ended before listening:\n" + "".join(self.lines))
            )

    async def kill(self) -> None:
        """``kill -9``: no goodbye, nothing flushed."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
            await self._process.wait()
        await self._finish_reading()

    @property
    def pid(self) -> int:
        """The process id (once started)."""
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self, timeout: float = 60) -> int:
        """A graceful stop (SIGTERM); the exit code."""
        assert self._process is not None
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), timeout)
            except TimeoutError:
                await self.kill()
        await self._finish_reading()
        return self._process.returncode or 0

    async def _finish_reading(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
            self._reader = None


class Admin:
    """The server's admin API and hooks, through one client session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response:
            return response.status, await response.json()

    async def deploy(self, flow: dict[str, Any]) -> str:
        """Deploy and start ``flow``; the secret of its (first) hook."""
        status, deployed = await self.api("POST", "/api/flows", flow)
        assert status in (200, 201), deployed
        status, started = await self.api("POST", f"/api/flows/{flow['id']}/start")
        assert status == 200, started
        secret: str = deployed["hooks"][0]["secret"]
        return secret

    async def push(self, path: str, event: Any, secret: str) -> int:
        """POST ``event`` to a hook; the HTTP status (0 when no answer came)."""
        try:
            async with self.session.post(
                self.url + path,
                json=event,
                headers={"X-Flowmixer-Hook-Secret": secret},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def dead_letters(self, flow_id: str) -> list[dict[str, Any]]:
        status, body = await self.api("GET", f"/api/dead-letters?flow={flow_id}&limit=1000")
        assert status == 200, body
        letters: list[dict[str, Any]] = body["deadLetters"]
        return letters
