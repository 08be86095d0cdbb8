"""The durable broker on PostgreSQL: messages in a table of the store's database, shared by
every process that opens it.

The promises of the SQLite broker (:mod:`runtime.brokers.sqlite`) hold: a ``put`` returns once
its row is committed; what was taken and not acknowledged is delivered again (at least once);
delayed retries and parked messages are rows that survive a restart; a dead letter and the
removal of its message, a tick's fenced state writes and its messages, an event and its
idempotency key are each one transaction; concurrent writes share transactions
(:mod:`runtime.brokers.postgres_commit`).

Across processes, a row belongs to the broker that holds it in memory (its ``owner``): each
broker takes a number locked by a session advisory lock for its lifetime. A put is owned by
its publisher; a flow's start takes the rows nobody alive holds; a stopped flow lets its rows
go. While both of two processes live, neither delivers the other's messages; when one dies
(``kill -9`` included), the server ends its session and releases its lock, and the other takes
its rows at its next sweep (every ``sweep_interval`` seconds) or the next start. A row is
claimed with ``FOR UPDATE SKIP LOCKED``, so of two brokers sweeping at once each row goes to one.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from runtime.brokers.postgres_channel import PostgresChannel
from runtime.brokers.postgres_commit import MAX_BATCH, Owner, PostgresCommit
from runtime.brokers.row_broker import RowBroker
from runtime.stores import codec, postgres_effect_rows
from runtime.stores import postgres_messages as sql

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection

    from structlog.typing import FilteringBoundLogger

    from runtime.envelope import Envelope
    from runtime.stores.postgres import PostgresStore

SWEEP_INTERVAL = 2.0


def _hold(channel: PostgresChannel, rows: list[Any]) -> None:
    channel.take(rows)  # swept rows are never parked: nothing comes back


class PostgresBroker(RowBroker):
    """Durable channels in ``store``'s database (table ``messages``), safe for several
    processes on one database.

    Close it (or leave its ``async with``) before the store: that waits for the writes still
    queued, acknowledgements included, and lets go of the rows it holds. ``max_batch`` caps
    the writes of one transaction; ``sweep_interval`` is how often the rows of a broker that
    died are looked for (seconds).
    """

    statements: ClassVar[ModuleType] = sql
    effect_rows: ClassVar[ModuleType] = postgres_effect_rows
    channel_type = PostgresChannel
    store: PostgresStore
    _writes: PostgresCommit

    def __init__(
        self,
        store: PostgresStore,
        *,
        max_batch: int = MAX_BATCH,
        sweep_interval: float = SWEEP_INTERVAL,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        if sweep_interval <= 0:
            raise ValueError("sweep_interval must be positive")
        self.store = store
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.broker")
        self._owner = Owner(store.pool)
        self._writes = PostgresCommit(
            store.pool, self._owner, logger=self._logger, max_batch=max_batch
        )
        self._channels: dict[tuple[str, str], PostgresChannel] = {}
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None

    async def number(self) -> int:
        """This broker's number, the ``owner`` of the rows it holds."""
        return await self._owner.number()

    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> PostgresChannel:
        key = (flow_id, component_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = PostgresChannel(
                self._writes, self.store, flow_id, component_id, maxsize, self._logger
            )
            self._channels[key] = channel
            if self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().create_task(
                    self._sweep_forever(), name="flowmixer:broker:sweep"
                )  # channels are made on the engine's loop, where the sweep runs
        return channel

    def release(self, flow_id: str) -> None:
        for key in [k for k in self._channels if k[0] == flow_id]:
            self._channels.pop(key).forget()
        # Another process running this flow may deliver them now (this one at its next start).
        self._writes.submit_nowait(partial(sql.release, flow_id))

    async def take_strays(
        self,
        flow_id: str,
        components: Collection[str],
        keep: Callable[[Envelope], Awaitable[None]],
    ) -> int:
        rows = await self._writes.submit(partial(sql.strays, flow_id, sorted(components)))
        for row in sorted(rows, key=lambda row: row["seq"]):
            await keep(codec.decode_envelope(row["envelope_json"]))
        if rows:
            await self._writes.submit(partial(sql.delete, [row["seq"] for row in rows]))
        return len(rows)

    # -- rows left by a broker that died ---------------------------------------------------

    async def sweep(self) -> int:
        """Take, within each open channel's bound, the ready rows no live broker holds; how
        many were taken. Runs every ``sweep_interval`` seconds; tests call it directly."""
        open_channels = {
            key: channel
            for key, channel in self._channels.items()
            if channel.restored and not channel.closed and channel.room() > 0
        }
        if not open_channels:
            return 0
        found = await self._writes.submit(partial(sql.orphaned, list(open_channels)))
        taken = 0
        for row in found:
            channel = open_channels[(row["flow_id"], row["component_id"])]
            if self._channels.get((channel.flow_id, channel.component_id)) is not channel:
                continue  # released meanwhile
            claim = partial(sql.claim, channel.flow_id, channel.component_id, channel.room())
            rows = await self._writes.submit(claim, on_commit=partial(_hold, channel))
            taken += len(rows)
        return taken

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except Exception as exc:  # the database may be back at the next sweep
                self._logger.warning(
                    "could not look for messages left by a stopped process",
                    error=f"{type(exc).__name__}: {exc}",
                )

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.flush()
        await self._owner.close()
