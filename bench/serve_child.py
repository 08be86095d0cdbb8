"""``flowmixer serve`` as a child process for the benchmarks, and what they read of it.

The server runs over a home folder of its own on a free loopback port; its output is drained
(and its last lines kept, to say why it ended) so that a chatty server never blocks on a full
pipe.
"""

from __future__ import annotations

import asyncio
import collections
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
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"


class ServeChild:
    """One ``flowmixer serve`` over ``home`` with ``args``; ``env`` adds to the environment."""

    def __init__(
        self,
        home: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        module: str = "runtime.cli",
    ) -> None:
        self.home = home
        self.module = module
        self.args = args
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FLOWMIXER_HOME": str(home),
            "FLOWMIXER_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLOWMIXER_LOG_LEVEL": "info",
            **(env or {}),
        }
        self.url = ""
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.events: dict[str, dict[str, Any]] = {}
        """The last JSON line of each ``event`` the server printed (see ``watch``)."""
        self.watch: tuple[str, ...] = ()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self, timeout: float = 60) -> str:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            "serve",
            "--port",
            "0",
            *self.args,
            env=self.env,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=1 << 20,
        )
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._drain(listening))
        try:
            port = await asyncio.wait_for(listening, timeout)
        except (TimeoutError, RuntimeError):
            await self.stop()
            raise SystemExit("the server did not start:\n" + "".join(self.tail)) from None
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def _drain(self, listening: asyncio.Future[int]) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace")
            self.tail.append(line)
            if self.watch and line.startswith("{") and any(w in line for w in self.watch):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    self.events[str(record.get("event"))] = record
            if not listening.done() and "server listening" in line:
                listening.set_result(int(json.loads(line)["port"]))
        if not listening.done():
            listening.set_exception(RuntimeError("the server ended before listening"))

    def rss_mib(self, field: str = "VmRSS") -> float:
        """The server's resident set size now, in MiB (Linux ``/proc``); ``field="VmHWM"``:
        its peak so far."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} in /proc status")

    async def stop(self, timeout: float = 120) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), timeout)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def admin(
    session: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """One admin API call with the benchmark's token: the status and the JSON answer."""
    async with session.request(
        method, url + path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as response:
        return response.status, await response.json()


async def deploy_and_start(session: aiohttp.ClientSession, url: str, flow: dict[str, Any]) -> Any:
    """Deploy ``flow`` and start it; the deploy's answer (hooks and their secrets)."""
    status, deployed = await admin(session, url, "POST", "/api/flows", flow)
    if status not in (200, 201):
        raise SystemExit(f"deploying {flow['id']} answered {status}: {deployed}")
    status, started = await admin(session, url, "POST", f"/api/flows/{flow['id']}/start")
    if status != 200:
        raise SystemExit(f"starting {flow['id']} answered {status}: {started}")
    return deployed
