"""``/metrics`` answers built off the event loop and shared for a moment.

Rendering walks every running flow; with thousands of them that is tens of milliseconds of
Python that would stall every request on the front's loop, so it runs on a worker thread. Its
answer is kept for :data:`FRESH_SECONDS`: scrapers that arrive together (several Prometheus
replicas, a dashboard's refresh) share one rendering instead of queueing one each, and a
scrape that arrives while one is being built waits for that one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from runtime.server.metrics_engine import FlowSelection

FRESH_SECONDS: Final = 1.0
"""How long a rendered answer is served again: well under any scrape interval."""


class ScrapeCache:
    """The last answer per flow selection, and the rendering under way, if any."""

    def __init__(self, fresh: float = FRESH_SECONDS) -> None:
        self._fresh = fresh
        self._answers: dict[FlowSelection, tuple[float, bytes]] = {}
        self._building: dict[FlowSelection, asyncio.Future[bytes]] = {}

    async def get(self, selection: FlowSelection, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer for ``selection``: a fresh one kept, the one being built, or a new one."""
        now = time.monotonic()
        kept = self._answers.get(selection)
        if kept is not None and now - kept[0] < self._fresh:
            return kept[1]
        under_way = self._building.get(selection)
        if under_way is not None:
            return await asyncio.shield(under_way)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._building[selection] = future
        try:
            body = await build()
        except asyncio.CancelledError:
            future.cancel()  # the waiters, if any, build their own
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters, if any, get it too
            raise
        finally:
            del self._building[selection]
        future.set_result(body)
        self._forget_stale(now)
        self._answers[selection] = (time.monotonic(), body)
        return body

    def _forget_stale(self, now: float) -> None:
        stale = [s for s, (at, _) in self._answers.items() if now - at >= self._fresh]
        for selection in stale:
            del self._answers[selection]
