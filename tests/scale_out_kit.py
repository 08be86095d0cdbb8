"""The processes of a scale-out as children: ``flowmixer serve --no-workers`` (a
:class:`~tests.serve_process.ServeProcess`) and ``flowmixer worker`` (:class:`WorkerProcess`),
with what the tests ask of them."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.serve_process import ServeProcess


class WorkerProcess(ServeProcess):
    """One ``flowmixer worker --metrics-port 0``; :attr:`url` answers /healthz and /metrics."""

    async def start(self, timeout: float = 30) -> str:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "worker",
            "--metrics-port",
            "0",
            *self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_worker(listening))
        try:
            port = await asyncio.wait_for(listening, timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError("the worker never listened:\n" + "".join(self.lines)) from None
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def _read_worker(self, listening: asyncio.Future[int]) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if not listening.done() and "metrics listening" in line:
                listening.set_result(int(json.loads(line)["port"]))
        if not listening.done():
            listening.set_exception(
                AssertionError("the worker ended before listening:\n" + "".join(self.lines))
            )


async def health(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url + "/healthz") as response:
        return response.status, await response.json()


async def running_flows(session: aiohttp.ClientSession, url: str) -> int:
    """How many flows the process at ``url`` runs (paused ones count as not running)."""
    _, body = await health(session, url)
    return int(body["flows"]["running"])


async def seconds_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30, every: float = 0.02
) -> float:
    """How long until ``check()`` holds (an AssertionError after ``timeout``)."""
    began = time.monotonic()
    while not await check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not so within {timeout:g} s")
        await asyncio.sleep(every)
    return time.monotonic() - began
