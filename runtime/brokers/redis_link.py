"""What the channels of one Redis broker share: the client, the scripts, the consumer's name.

Every script call goes through :meth:`Link.run`, which waits out a Redis server that went away
(connection refused, reset, or loading its append-only file after a restart) and runs the
call again once it is back: the scripts are written so that a second run of a call whose answer
was lost changes nothing (:mod:`runtime.brokers.redis_scripts`). Calls made within
:meth:`Link.patience` give up instead, once the server has been away past their deadline: a
webhook is answered 503 rather than kept waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from runtime.brokers import redis_scripts as scripts
from runtime.errors import BrokerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Iterator

    import redis.asyncio as redis
    from structlog.typing import FilteringBoundLogger

RECONNECT_WAIT = (0.05, 2.0)  # the first and the longest wait between tries, seconds
# The monotonic time past which the calls of this task stop waiting for the server (None: never).
_DEADLINE: ContextVar[float | None] = ContextVar("flowmixer_redis_deadline", default=None)


def cancel_pending() -> bool:
    """Whether the current task has been asked to stop. redis-py may answer a read that a
    cancel interrupted with a connection error ("closed by server") instead of the
    ``CancelledError``: such an error must end the task, never be waited out and retried."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def consumer_name() -> str:
    """``host:pid:random``: unique to this process (and to this broker in it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Link:
    """The Redis client of one broker, its consumer name and its scripts."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        visibility_timeout: float,
        logger: FilteringBoundLogger,
    ) -> None:
        import redis.exceptions

        self.client = client
        self.consumer = consumer_name()
        self.visibility_ms = max(1, int(visibility_timeout * 1000))
        self.logger = logger
        self.closing = False
        self.reachable = True  # as last seen: a call failed for want of the server, or not
        self.depths_wanted_at = float("-inf")  # monotonic time someone last read the depths
        self._gone: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            OSError,
        )
        self.put_script = client.register_script(scripts.PUT)
        self.promote = client.register_script(scripts.PROMOTE)
        self.settle_script = client.register_script(scripts.SETTLE)
        self.touch = client.register_script(scripts.TOUCH)
        self.unpark = client.register_script(scripts.UNPARK)
        self.relay = client.register_script(scripts.RELAY)
        self._tasks: set[asyncio.Task[Any]] = set()

    def gone(self, error: BaseException) -> bool:
        """Whether ``error`` says the server is out of reach (rather than a refused command)."""
        return isinstance(error, self._gone)

    @contextlib.contextmanager
    def patience(self, seconds: float | None) -> Iterator[None]:
        """Within this block, calls that find the server out of reach try again for at most
        ``seconds`` (from now) and then raise :class:`BrokerUnavailableError`; ``None``: as
        long as it takes."""
        if seconds is None:
            yield
            return
        token = _DEADLINE.set(time.monotonic() + seconds)
        try:
            yield
        finally:
            _DEADLINE.reset(token)

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``, made again while the server is out of reach (until the broker closes,
        or the deadline of :meth:`patience` passes)."""
        wait, longest = RECONNECT_WAIT
        warned = False
        while True:
            try:
                result = await call()
            except Exception as exc:
                if cancel_pending():
                    raise asyncio.CancelledError from exc
                if not self.gone(exc) or self.closing:
                    raise
                self.reachable = False
                deadline = _DEADLINE.get()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise BrokerUnavailableError("the Redis server is out of reach") from None
                if not warned:
                    warned = True
                    self.logger.warning(
                        "Redis is out of reach; waiting for it", error=type(exc).__name__
                    )
                await asyncio.sleep(wait if left is None else min(wait, left))
                wait = min(longest, wait * 2)
                continue
            self.reachable = True
            if warned:
                self.logger.info("Redis is reachable again")
            return result

    async def script(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` with ``keys`` and ``args`` (see :meth:`run`)."""
        return await self.run(lambda: script(keys=keys, args=args))

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``work`` in the background; :meth:`settle` waits for it. Failures are logged."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.logger.error(
                "a Redis broker write failed", error=f"{type(error).__name__}", exc_info=error
            )

    async def settle(self) -> None:
        """Wait for the background work spawned so far."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
