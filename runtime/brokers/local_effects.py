"""The effects ledger's records with the in-memory broker: kept in this process, written behind.

With the in-memory broker a message lives in this process only, and a crash loses it with
everything queued. The records of the effects (:mod:`runtime.effects`) of the events this
process made since it started (``new_event_id.number``) are therefore read and written by this
process alone, as long as their message lives: :class:`LocalEffectWrites` keeps them in a dict
(``get``, ``claim`` and ``put`` make no round trip) and writes them to the store behind, in the
broker's group commit, coalesced: a claim and the result that follows it within
:data:`WRITE_DELAY` make one row write.

What must find a record later finds it:

- a dead letter: the broker has every pending record written before it writes the letter
  (:meth:`LocalEffectWrites.settle`), so a retry of the letter, after a restart or in another
  process, finds what its effect did;
- a message delivered again in this process finds its records here or, once they were evicted
  (:data:`KEEP` records are kept, the oldest leave first), in the store: from then on the events
  up to the newest one evicted are read and written through the store, after the pending
  writes, which go first in the same first-in-first-out queue of transactions.

The events of another process, or made before this ledger was (before a restart, or under an
engine this process ran before), always go through the store, as with
:class:`~runtime.brokers.effect_outbox.QueuedEffectWrites`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final, Protocol

from runtime.brokers.effect_outbox import EffectStatements, QueuedEffectWrites
from runtime.envelope import new_event_id

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.group_commit import BatchCommit
    from runtime.effect_writes import EffectName
    from runtime.stores.base import EffectRecord, EffectStore

KEEP: Final = 4096
"""Records kept in memory; past that the oldest quarter leaves (they are in the store)."""

WRITE_DELAY: Final = 0.1
"""Seconds a record waits to be written, so that the result that follows a claim replaces it."""

WRITE_AT: Final = 512
"""Records pending that are written at once, whatever their wait."""


class LocalStatements(EffectStatements, Protocol):
    """:class:`EffectStatements` and one work writing many records (each replacing its row)."""

    put_all: Callable[..., Any]


class LocalEffectWrites(QueuedEffectWrites):
    """The ledger's calls for this process's events answered from memory and written behind;
    any other event's go through ``writes`` (see the module)."""

    __slots__ = ("_evicted", "_keep", "_pending", "_records", "_timer")

    def __init__(
        self,
        store: EffectStore,
        writes: BatchCommit,
        statements: LocalStatements,
        logger: FilteringBoundLogger,
        *,
        keep: int = KEEP,
    ) -> None:
        super().__init__(store, writes, statements, logger)
        self._records: dict[EffectName, EffectRecord] = {}
        self._pending: dict[EffectName, EffectRecord] = {}
        # The newest event number whose records may be in the store and not here: at first,
        # the last one drawn before this ledger (an engine started again in the same process
        # reads the store for its predecessor's events).
        self._evicted = new_event_id.number(new_event_id()) or 0
        self._keep = keep
        self._timer: asyncio.TimerHandle | None = None

    def _local(self, correlation_id: str) -> bool:
        number = new_event_id.number(correlation_id)
        return number is not None and number > self._evicted

    async def get(self, name: EffectName) -> EffectRecord | None:
        if self._local(name[2]):
            return self._records.get(name)
        self.write_pending()
        return await super().get(name)

    async def claim(self, record: EffectRecord) -> bool:
        if not self._local(record.correlation_id):
            self.write_pending()
            return await super().claim(record)
        name = _name(record)
        kept = self._records.get(name)
        if kept is not None and (kept.done or kept.attempts != record.attempts - 1):
            return False
        self._hold(name, record)
        return True

    async def put(self, record: EffectRecord) -> None:
        if not self._local(record.correlation_id):
            self.write_pending()
            await super().put(record)
            return
        self._hold(_name(record), record)

    async def put_before_ack(self, record: EffectRecord) -> None:
        # Nothing acknowledged here outlives the process: held like any other write.
        if not self._local(record.correlation_id):
            self.write_pending()
            await super().put_before_ack(record)
            return
        self._hold(_name(record), record)

    async def claimed(self, refs: Collection[str]) -> set[str]:
        self.write_pending()  # queued ahead of the query, so that it sees them
        return await super().claimed(refs)

    def _hold(self, name: EffectName, record: EffectRecord) -> None:
        records = self._records
        records[name] = record
        self._pending[name] = record
        if len(records) > self._keep:
            self._evict()
        if len(self._pending) >= WRITE_AT:
            self.write_pending()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WRITE_DELAY, self.write_pending)

    def _evict(self) -> None:
        records = self._records
        names = iter(records)
        doomed = [next(names) for _ in range(len(records) - self._keep * 3 // 4)]
        for name in doomed:
            del records[name]
            number = new_event_id.number(name[2])
            if number is not None and number > self._evicted:
                self._evicted = number

    def write_pending(self) -> None:
        """Queue the writes of every pending record (ahead of whatever is queued next)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        records = list(self._pending.values())
        self._pending.clear()
        statements: LocalStatements = self._statements  # type: ignore[assignment]
        self._writes.submit(statements.put_all(records)).add_done_callback(self._failed)

    async def settle(self) -> None:
        """Return once every record held so far is committed to the store."""
        self.write_pending()
        await self._writes.flush()


def _name(record: EffectRecord) -> EffectName:
    return (record.flow_id, record.component_id, record.correlation_id, record.digest)
