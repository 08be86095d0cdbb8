"""The writes of the Redis quota state that their callers do not await, sent in order.

``observe``, ``hold`` and ``release`` of a gate are plain calls (the service client makes them
between sending and answering); their writes queue here and a background task sends them in
pipelines, oldest first, again and again with growing pauses while the server is unreachable:
a hold or a call's end is never dropped. :meth:`Writes.flushed` lets an acquire wait until
what its own process said has reached the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import redis.asyncio
    from redis.commands.core import AsyncScript
    from structlog.typing import FilteringBoundLogger

try:
    from redis.exceptions import ConnectionError as _ConnectionError
    from redis.exceptions import TimeoutError as _TimeoutError

    UNREACHABLE: tuple[type[BaseException], ...] = (_ConnectionError, _TimeoutError, OSError)
    """What a call to an unreachable (or restarting) server raises."""
except ImportError:  # the redis extra is missing: quota_redis says which to install
    UNREACHABLE = (OSError,)

BATCH: Final = 500
FIRST_PAUSE: Final = 0.05
LONGEST_PAUSE: Final = 2.0
CLOSE_WAIT: Final = 2.0

Write = tuple["AsyncScript | None", list[str], list[Any]]
"""A script with its keys and arguments; None for the end of a call (``ZREM``)."""


class Writes:
    """A queue of writes sent in order by one background task."""

    def __init__(self, client: redis.asyncio.Redis, log: FilteringBoundLogger) -> None:
        self._client = client
        self._log = log
        self._pending: list[Write] = []
        self._queued = 0
        self._sent = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.reachable = True

    def add(self, script: AsyncScript | None, keys: list[str], args: list[Any]) -> None:
        """Queue a write; it is sent soon, after every write queued before it."""
        self._pending.append((script, keys, args))
        self._queued += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def flushed(self) -> None:
        """Return once the writes queued so far have reached the server, or at once when the
        server is unreachable (the caller's own request then fails and is retried)."""
        if self._sent >= self._queued or not self.reachable:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._queued, waiter))
        await waiter

    async def close(self) -> None:
        """Send what is queued (waiting a little while for an unreachable server), then stop."""
        task = self._task
        if task is None or task.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), CLOSE_WAIT)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._wake(everyone=True)

    async def _drain(self) -> None:
        pause = FIRST_PAUSE
        while self._pending:
            batch = self._pending[:BATCH]
            try:
                await self._send(batch)
            except UNREACHABLE as exc:
                if self.reachable:
                    self._log.warning(
                        "quota server unreachable: holding the quota's writes until it is back",
                        error=type(exc).__name__,
                    )
                self.reachable = False
                self._wake(everyone=True)
                await asyncio.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE)
                continue
            except Exception as exc:  # a write the server refused: the others of it were made
                self._log.error("quota write refused by its server", error=str(exc))
            if not self.reachable:
                self._log.info("quota server reachable again")
            self.reachable, pause = True, FIRST_PAUSE
            del self._pending[: len(batch)]
            self._sent += len(batch)
            self._wake()

    async def _send(self, batch: list[Write]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for script, keys, args in batch:
                if script is None:
                    pipe.zrem(keys[0], *args)
                else:
                    await script(keys=keys, args=args, client=pipe)
            await pipe.execute()

    def _wake(self, *, everyone: bool = False) -> None:
        still = []
        for target, waiter in self._waiters:
            if everyone or target <= self._sent:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still.append((target, waiter))
        self._waiters = still
