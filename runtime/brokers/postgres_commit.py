"""Group commit on PostgreSQL: the writes of many coroutines in one transaction of the pool.

The shape of :mod:`runtime.brokers.group_commit` (the SQLite broker's), for asyncpg: a write is
a coroutine function of a connection and the broker's number; writes submitted while a
transaction runs queue for the next one, so under load one transaction (one commit) carries a
whole batch. A batch that fails rolls back and is run again one write per transaction, so only
the failing write fails. ``on_commit`` callbacks run right after the commit, in submission
order, before the callers awaiting the writes resume.

The broker's number comes from :class:`Owner`, which holds the session lock that tells other
processes this broker is alive, on a connection of its own for the broker's lifetime.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.brokers.group_commit import BatchCommit
from runtime.stores.postgres_owners import take_number

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import asyncpg
    from asyncpg.pool import PoolConnectionProxy
    from structlog.typing import FilteringBoundLogger

    from runtime.stores.postgres_letters import Conn

    Work = Callable[[Conn, int], Awaitable["T"]]

T = TypeVar("T")

MAX_BATCH = 500


class Owner:
    """This broker's number, locked on a pool connection kept until :meth:`close`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[Any] | None = None
        self._number: int | None = None
        self._lock = asyncio.Lock()

    async def number(self) -> int:
        """The number, taken (and locked) on first use."""
        if self._number is None:
            async with self._lock:
                if self._number is None:
                    conn = await self._pool.acquire()
                    try:
                        self._number = await take_number(conn)
                    except BaseException:
                        await self._pool.release(conn)
                        raise
                    self._conn = conn
        return self._number

    async def close(self) -> None:
        """Give the number up: rows still held become free for other brokers."""
        conn, self._conn, self._number = self._conn, None, None
        if conn is not None:
            await self._pool.release(conn)  # the pool's reset unlocks every advisory lock


class PostgresCommit(BatchCommit):
    """Runs submitted writes in transactions of ``pool``, as many as are waiting in each. A
    write is a coroutine function of a connection and the broker's number."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        owner: Owner,
        *,
        logger: FilteringBoundLogger,
        max_batch: int = MAX_BATCH,
    ) -> None:
        super().__init__(logger=logger, max_batch=max_batch)
        self._pool = pool
        self._owner = owner

    async def _transaction(self, works: list[Work[Any]]) -> list[Any]:
        owner = await self._owner.number()
        async with self._pool.acquire() as conn, conn.transaction():
            return [await work(conn, owner) for work in works]
