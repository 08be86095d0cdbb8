"""The Redis broker's outbox: messages that must commit with the store, relayed into Redis.

A polling trigger's tick writes its state in the store and sends messages, and a webhook event
with an idempotency key records the key in the store; Redis and the database share no
transaction. So these messages are first written as rows of the store's ``messages`` table
(the durable brokers' table, with its statements) in the same transaction as the state or the
key, then relayed into Redis by a script that marks each envelope as sent, then the rows are
deleted. A crash before the commit loses the tick (or the event, never acknowledged) as a
whole; a crash after it leaves rows that the next start of the flow (any process's) relays;
a relay that runs twice publishes once (the mark). Nothing is lost, nothing is repeated.
While flows run, :meth:`Outbox.sweep` relays the rows left by a process that died (PostgreSQL:
rows whose owner is gone; SQLite: rows older than :data:`SWEEP_AGE`) and those whose relay
failed here (Redis was away), so they wait a sweep's interval, not the flow's next start.

Rows of the same table left by the SQLite or PostgreSQL broker (a server moved onto Redis) are
relayed the same way: queued, delayed and parked alike.
"""

from __future__ import annotations

import json
import time
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

from runtime.brokers import redis_scripts as scripts
from runtime.brokers.group_commit import BatchCommit, GroupCommit
from runtime.stores import codec, sqlite_messages
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Sequence

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import StateWrite
    from runtime.envelope import Envelope
    from runtime.stores.base import IdempotencyKey
    from runtime.stores.leases import Lease

    Relay = Callable[..., Awaitable[Any]]

SWEEP_AGE = 10.0  # seconds a SQLite row waits before a sweep takes it as left by a crash


class Outbox:
    """Rows of ``store``'s ``messages`` table on their way into Redis (see the module docs)."""

    def __init__(self, store: object, relay: Relay, logger: FilteringBoundLogger) -> None:
        self._relay = relay
        self._unsent: set[tuple[str, str]] = set()  # channels with a relay failed here
        self._postgres_owner: Any = None
        self._writes: BatchCommit
        self._sql: ModuleType
        if isinstance(store, SQLiteStore):
            self._writes, self._sql = GroupCommit(store, logger=logger), sqlite_messages
        else:
            from runtime.brokers.postgres_commit import Owner, PostgresCommit
            from runtime.stores import postgres_messages
            from runtime.stores.postgres import PostgresStore

            if not isinstance(store, PostgresStore):
                raise TypeError(f"the Redis broker keeps no outbox in {type(store).__name__}")
            self._postgres_owner = Owner(store.pool)
            self._writes = PostgresCommit(store.pool, self._postgres_owner, logger=logger)
            self._sql = postgres_messages

    async def commit_unit(
        self,
        writes: Sequence[StateWrite],
        sends: Sequence[tuple[str, str, Envelope]],
        lease: Lease | None = None,
    ) -> None:
        """Commit ``writes`` with ``sends`` (flow, component, envelope) as rows, fenced by
        ``lease`` when given (a tick whose trigger passed to another process writes nothing),
        then relay."""
        rows = [(flow, component, codec.encode_envelope(env)) for flow, component, env in sends]
        work = partial(self._sql.commit_unit, list(writes), rows, time.time(), lease)
        seqs: list[int] = await self._writes.submit(work)
        for flow, component, text in rows:
            await self._publish_or_keep(flow, component, text)
        if seqs:
            await self._writes.submit(partial(self._sql.delete, seqs))

    async def admit_event(self, envelope: Envelope, key: IdempotencyKey) -> None:
        """Commit a webhook event with its idempotency ``key`` (raising
        :class:`~runtime.errors.DuplicateEventError` for another event's key), then relay it."""
        flow, component = envelope.flow_id, envelope.component_id
        text = codec.encode_envelope(envelope)
        work = partial(self._sql.insert_event, flow, component, text, envelope.id, key)
        seq: int = await self._writes.submit(work)
        await self._publish_or_keep(flow, component, text)
        await self._writes.submit(partial(self._sql.delete, [seq]))

    async def relay_left(self, flow_id: str, component_id: str) -> int:
        """Relay the rows of a component left by a crash (or by another broker); how many."""
        if self._sql is sqlite_messages:
            rows = await self._writes.submit(partial(self._sql.load, flow_id, component_id))
        else:
            rows = await self._writes.submit(partial(self._sql.claim, flow_id, component_id, None))
        seqs = []
        for seq, parked, available_at, error, text in rows:
            await self._publish(
                flow_id, component_id, text, parked=bool(parked), due=available_at, error=error
            )
            seqs.append(seq)
        if seqs:
            await self._writes.submit(partial(self._sql.delete, seqs))
        return len(seqs)

    async def sweep(self, channels: Collection[tuple[str, str]]) -> int:
        """Relay the rows of ``channels`` (flow, component) left by a process that died or by
        a relay that failed here; how many."""
        if self._sql is sqlite_messages:
            work = partial(self._sql.waiting, list(channels), time.time() - SWEEP_AGE)
        else:
            work = partial(self._sql.orphaned, list(channels))
        found = {(str(row[0]), str(row[1])) for row in await self._writes.submit(work)}
        retry, self._unsent = self._unsent & set(channels), self._unsent - set(channels)
        count = 0
        for flow, component in sorted(found | retry):
            try:
                count += await self.relay_left(flow, component)
            except BaseException:
                self._unsent.add((flow, component))
                raise
        return count

    async def _publish_or_keep(self, flow: str, component: str, text: str) -> None:
        """Publish a committed row; if that fails, its row stays for the next sweep."""
        try:
            await self._publish(flow, component, text, parked=False, due=0.0, error=None)
        except BaseException:
            self._unsent.add((flow, component))
            raise

    async def _publish(
        self, flow: str, component: str, text: str, *, parked: bool, due: float, error: str | None
    ) -> None:
        envelope_id = codec.decode_envelope(text).id
        stream, delayed, parked_key, _ = scripts.channel_keys(flow, component)
        keys = [stream, delayed, parked_key, scripts.sent_key(flow, envelope_id)]
        if parked:
            record = json.dumps({"error": error or "", "envelope": text})
            args: list[Any] = ["park", envelope_id, record]
        elif due > time.time():
            args = ["retry", int(due * 1000), text]
        else:
            args = ["ready", "", text]
        await self._relay(keys=keys, args=[*args, scripts.SENT_TTL])

    async def close(self) -> None:
        await self._writes.flush()
        if self._postgres_owner is not None:
            await self._postgres_owner.close()
