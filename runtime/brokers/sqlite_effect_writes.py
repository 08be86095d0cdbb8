"""The effects ledger's calls as writes of the SQLite broker's group commit (an outbox).

Every call is a function of the connection queued in the broker's
:class:`~runtime.brokers.group_commit.GroupCommit`, so claims, results, publishes and
acknowledgements made at the same time share one transaction, and a read sees every write
queued before it (the queue runs its transactions one after another, in order).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from runtime.effect_writes import EffectWrites
from runtime.stores import sqlite_effects

if TYPE_CHECKING:
    import asyncio
    import sqlite3
    from collections.abc import Collection

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.group_commit import GroupCommit
    from runtime.effect_writes import EffectName
    from runtime.stores.base import EffectRecord


def _get(name: EffectName, conn: sqlite3.Connection) -> EffectRecord | None:
    return sqlite_effects.get(conn, *name)


def _claim(row: tuple[Any, ...], conn: sqlite3.Connection) -> bool:
    return sqlite_effects.claim(conn, row)


def _put(row: tuple[Any, ...], conn: sqlite3.Connection) -> None:
    sqlite_effects.put(conn, row)


def _claimed(refs: Collection[str], conn: sqlite3.Connection) -> set[str]:
    return sqlite_effects.claimed(conn, refs)


class QueuedEffectWrites(EffectWrites):
    """The ledger's calls through ``writes``, the group commit of a broker in the store's file."""

    __slots__ = ("_logger", "_writes")

    def __init__(self, writes: GroupCommit, logger: FilteringBoundLogger) -> None:
        super().__init__(writes.store)
        self._writes = writes
        self._logger = logger

    async def get(self, name: EffectName) -> EffectRecord | None:
        record: EffectRecord | None = await self._writes.submit(partial(_get, name))
        return record

    async def claim(self, record: EffectRecord) -> bool:
        won: bool = await self._writes.submit(partial(_claim, sqlite_effects.encode(record)))
        return won

    async def put(self, record: EffectRecord) -> None:
        await self._writes.submit(partial(_put, sqlite_effects.encode(record)))

    async def put_before_ack(self, record: EffectRecord) -> None:
        # Not awaited: queued ahead of the caller's publish and ack, it commits with them or
        # before them (see runtime.effect_writes).
        future = self._writes.submit(partial(_put, sqlite_effects.encode(record)))
        future.add_done_callback(self._failed)

    def _failed(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            self._logger.error(
                "an effect's record could not be written", error=f"{type(error).__name__}: {error}"
            )

    async def claimed(self, refs: Collection[str]) -> set[str]:
        found: set[str] = await self._writes.submit(partial(_claimed, list(refs)))
        return found
