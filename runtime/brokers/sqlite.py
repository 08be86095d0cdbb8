"""The durable embedded broker: messages in a table of the SQLite store's own file.

Every message not yet acknowledged is a row of ``messages``; a ``put`` returns once its row is
committed, so an accepted message survives ``kill -9``, and what was taken but not acknowledged
is delivered again after a restart (at least once). Writes go through one
:class:`~runtime.brokers.group_commit.GroupCommit` on the store's thread: concurrent puts,
acknowledgements and retries share one transaction. An ``ack`` does not wait for its commit
(if the process dies first, the message is delivered again, which at-least-once allows).

The rows of a channel are mirrored in memory (ready, delayed, taken, parked), so ``get`` never
reads the disk: the table is read once per channel, by ``restore`` at the flow's start. One
process uses a database file's queues at a time.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

import structlog

from runtime.brokers.base import Channel
from runtime.brokers.from_thread import ThreadIntake
from runtime.brokers.group_commit import MAX_BATCH, GroupCommit
from runtime.brokers.row_broker import RowBroker
from runtime.brokers.row_queue import RowQueue, RowStatements
from runtime.stores import codec, sqlite_effect_rows
from runtime.stores import sqlite_messages as sql

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Awaitable, Callable, Collection

    from structlog.typing import FilteringBoundLogger

    from runtime.envelope import Envelope
    from runtime.stores.base import IdempotencyKey
    from runtime.stores.sqlite import SQLiteStore

# -- the channel ------------------------------------------------------------------------


class SQLiteChannel(RowQueue, ThreadIntake, Channel):
    """The input queue of one component, durable in the ``messages`` table.

    ``offer`` always declines (a durable publish has to wait for its commit), so publishers
    take ``put``; ``get_nowait`` and ``get`` serve from memory. The bound counts messages ready,
    delayed and parked in memory plus puts being committed.
    """

    rows: ClassVar[RowStatements] = sql
    _writes: GroupCommit

    def __init__(
        self,
        writes: GroupCommit,
        flow_id: str,
        component_id: str,
        maxsize: int,
        logger: FilteringBoundLogger,
    ) -> None:
        super().__init__(writes, writes.store, flow_id, component_id, maxsize, logger)
        self._init_thread_intake()

    def _has_room(self) -> bool:
        return self._held() < self._maxsize

    def _held(self) -> int:
        ready = len(self._ready) + len(self._delayed) + len(self._parked)
        return ready + self._reserved + self._incoming

    # -- in and out ------------------------------------------------------------------------

    # -- delivery outcome ------------------------------------------------------------------

    def depth(self) -> int:
        return len(self._ready) + len(self._delayed) + self._incoming

    def row_from_thread(
        self, envelope: Envelope, key: IdempotencyKey | None = None
    ) -> Callable[[sqlite3.Connection], int]:
        """(Any thread.) The insert of a reserved event's row, with its idempotency ``key``
        when given (as :meth:`admit` writes them: one transaction), which the reserving thread
        commits with its own writer; its ``seq`` goes to :meth:`arrive_from_thread`."""
        text = codec.encode_envelope(envelope)
        return partial(sql.insert_event, self.flow_id, self.component_id, text, envelope.id, key)

    def arrive_from_thread(self, envelope: Envelope, row: int | None) -> None:
        assert row is not None, "a durable channel takes a message with its committed row"
        self._append(row, envelope)  # its room was reserved
        self._landed()

    # -- parking and restarting ------------------------------------------------------------

    async def restore(self) -> list[tuple[Envelope, str]]:
        if self.restored:
            return []
        self.restored = True
        # Through the write queue, so it reads after every write submitted before it.
        rows = await self._writes.submit(partial(sql.load, self.flow_id, self.component_id))
        loop = asyncio.get_running_loop()
        now = time.time()
        parked: list[tuple[Envelope, str]] = []
        for seq, is_parked, available_at, error, text in rows:
            envelope = codec.decode_envelope(text)
            if is_parked:
                self._parked[envelope] = seq
                parked.append((envelope, error or ""))
            elif available_at <= now:
                self._append(seq, envelope)
            else:
                handle = loop.call_later(available_at - now, self._due, envelope)
                self._delayed[envelope] = (seq, handle)
        return parked


# -- the broker -------------------------------------------------------------------------


class SQLiteBroker(RowBroker):
    """Durable channels in ``store``'s file (table ``messages``), for one process at a time.

    Close it (or leave its ``async with``) before the store: that waits for the writes still
    queued, acknowledgements included. ``max_batch`` caps the writes of one transaction.
    """

    statements: ClassVar[ModuleType] = sql
    effect_rows: ClassVar[ModuleType] = sqlite_effect_rows
    channel_type = SQLiteChannel
    store: SQLiteStore
    _writes: GroupCommit

    def __init__(
        self,
        store: SQLiteStore,
        *,
        max_batch: int = MAX_BATCH,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        self.store = store
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.broker")
        self._writes = GroupCommit(store, logger=self._logger, max_batch=max_batch)
        self._channels: dict[tuple[str, str], SQLiteChannel] = {}

    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> SQLiteChannel:
        key = (flow_id, component_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = SQLiteChannel(self._writes, flow_id, component_id, maxsize, self._logger)
            self._channels[key] = channel
        return channel

    def release(self, flow_id: str) -> None:
        for key in [k for k in self._channels if k[0] == flow_id]:
            self._channels.pop(key).forget()

    async def take_strays(
        self,
        flow_id: str,
        components: Collection[str],
        keep: Callable[[Envelope], Awaitable[None]],
    ) -> int:
        rows = await self._writes.submit(partial(sql.strays, flow_id, sorted(components)))
        for _, text in rows:
            await keep(codec.decode_envelope(text))
        if rows:
            await self._writes.submit(partial(sql.delete, [seq for seq, _ in rows]))
        return len(rows)
