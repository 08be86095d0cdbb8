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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runtime.brokers.postgres_rows import take_number

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


class _Write(Generic[T]):
    __slots__ = ("future", "on_commit", "on_fail", "work")

    def __init__(
        self,
        work: Work[T],
        future: asyncio.Future[T],
        on_commit: Callable[[T], None] | None,
        on_fail: Callable[[BaseException], None] | None,
    ) -> None:
        self.work = work
        self.future = future
        self.on_commit = on_commit
        self.on_fail = on_fail

    def committed(self, result: T) -> None:
        if self.on_commit is not None:
            self.on_commit(result)
        if not self.future.done():  # its caller may have been cancelled meanwhile
            self.future.set_result(result)

    def failed(self, error: BaseException) -> None:
        if self.on_fail is not None:
            self.on_fail(error)
        if not self.future.done():
            self.future.set_exception(error)


class PostgresCommit:
    """Runs submitted writes in transactions of ``pool``, as many as are waiting in each."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        owner: Owner,
        *,
        logger: FilteringBoundLogger,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._pool = pool
        self._owner = owner
        self._max_batch = max_batch
        self._queue: list[_Write[Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._logger = logger
        self.transactions = 0
        """Transactions committed so far (a batch that had to be split counts each part)."""

    def submit(
        self,
        work: Work[T],
        *,
        on_commit: Callable[[T], None] | None = None,
        on_fail: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Future[T]:
        """Queue ``work``; the future holds its result once its transaction has committed.

        ``on_commit`` or ``on_fail`` runs whatever becomes of the future's caller.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Write(work, future, on_commit, on_fail))
        if self._task is None:
            self._task = loop.create_task(self._run(), name="flowmixer:broker:commit")
        return future

    def submit_nowait(self, work: Work[Any]) -> None:
        """Queue ``work`` without waiting for it; a failure is logged."""
        self.submit(work).add_done_callback(self._log_failure)

    def _log_failure(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            self._logger.error("a broker write failed", error=f"{type(error).__name__}: {error}")

    async def flush(self) -> None:
        """Wait until everything submitted so far has been committed (or has failed)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)
        except asyncio.CancelledError:
            for write in self._queue:
                write.future.cancel()
            self._queue.clear()
            raise
        finally:
            self._task = None

    async def _transaction(self, batch: list[_Write[Any]]) -> list[Any]:
        owner = await self._owner.number()
        async with self._pool.acquire() as conn, conn.transaction():
            return [await write.work(conn, owner) for write in batch]

    async def _commit(self, batch: list[_Write[Any]]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].failed(exc)
                return
            for write in batch:  # find the one that failed; the others still commit
                await self._commit([write])
            return
        except asyncio.CancelledError:
            for write in batch:
                write.future.cancel()
            raise
        self.transactions += 1
        for write, result in zip(batch, results, strict=True):
            try:
                write.committed(result)
            except Exception:  # a bookkeeping bug must not stop the other writes' callers
                self._logger.exception("a broker write's callback failed")
