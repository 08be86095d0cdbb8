"""The processes of a scale-out as children: ``flowmixer serve --no-workers`` (a
:class:`~tests.serve_process.ServeProcess`) and ``flowmixer worker`` (:class:`WorkerProcess`),
with what the tests ask of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.serve_process import ServeProcess


class WorkerProcess(ServeProcess):
    """One ``flowmixer worker --metrics-port 0``; :attr:`url` answers /healthz and /metrics."""

    command = ("worker", "--metrics-port", "0")
    listening_event = "metrics listening"


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
