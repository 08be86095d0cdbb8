"""Group commit: the writes of many coroutines in one SQLite transaction.

A write is a function of the connection, run on the store's thread. Writes submitted while a
transaction is running queue for the next one, so under load one transaction (one trip to the
store's thread, one WAL commit) carries a whole batch, and a lone write still goes at once.
A write that fails makes its batch roll back; the batch is then run again one write per
transaction, so only the failing write fails. Each write's ``on_commit`` runs on the event loop
right after its transaction committed, in the order the writes were submitted, before the
callers awaiting them resume.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runtime.stores import sqlite_messages

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from structlog.typing import FilteringBoundLogger

    from runtime.stores.sqlite import SQLiteStore

T = TypeVar("T")

MAX_BATCH = 1000


class _Write(Generic[T]):
    __slots__ = ("future", "on_commit", "on_fail", "work")

    def __init__(
        self,
        work: Any,
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


class BatchCommit:
    """Runs submitted writes in transactions, as many as are waiting in each; a database's
    subclass says how a batch of writes runs in one transaction (:meth:`_transaction`)."""

    def __init__(self, *, logger: FilteringBoundLogger, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._max_batch = max_batch
        self._queue: list[_Write[Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._logger = logger
        self.transactions = 0
        """Transactions committed so far (a batch that had to be split counts each part)."""

    def submit(
        self,
        work: Any,
        *,
        on_commit: Callable[[Any], None] | None = None,
        on_fail: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Future[Any]:
        """Queue ``work``; the future holds its result once its transaction has committed.

        ``on_commit`` or ``on_fail`` runs whatever becomes of the future's caller.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Write(work, future, on_commit, on_fail))
        if self._task is None:
            self._task = loop.create_task(self._run(), name="flowmixer:broker:commit")
        return future

    def submit_nowait(self, work: Any) -> None:
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

    async def _transaction(self, works: list[Any]) -> list[Any]:
        """Run ``works`` in one transaction; their results, in order."""
        raise NotImplementedError

    async def _commit(self, batch: list[_Write[Any]]) -> None:
        try:
            results = await self._transaction([write.work for write in batch])
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


class GroupCommit(BatchCommit):
    """Runs submitted writes on ``store``'s thread, as many as are waiting in one transaction.
    A write is a function of the SQLite connection."""

    def __init__(
        self, store: SQLiteStore, *, logger: FilteringBoundLogger, max_batch: int = MAX_BATCH
    ) -> None:
        super().__init__(logger=logger, max_batch=max_batch)
        self.store = store
        """The store whose file the writes go to."""

    async def _transaction(self, works: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        return await self.store.with_connection(partial(sqlite_messages.in_one_transaction, works))
