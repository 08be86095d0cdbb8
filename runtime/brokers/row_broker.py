"""What the durable brokers share: channels of table rows, written through one group commit.

Both durable brokers (SQLite, PostgreSQL) keep their channels' rows in their store's database
and write them through a :class:`~runtime.brokers.group_commit.BatchCommit`; a tick's unit of
work, the effects ledger's calls (:mod:`runtime.brokers.effect_outbox`), deleting a flow's rows
and waiting for the queued writes are the same on both. A broker gives its row statements
(``statements``: ``delete_flow`` and ``commit_unit``), the ledger's works (``effect_rows``) and
its channel class (``channel_type``, for the check that a unit's channels are its own).
"""

from __future__ import annotations

import time
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

from runtime.brokers.base import Broker, Channel
from runtime.brokers.effect_outbox import QueuedEffectWrites
from runtime.brokers.row_queue import RowQueue
from runtime.stores import codec

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType
    from typing import Self

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import StateWrite
    from runtime.brokers.group_commit import BatchCommit
    from runtime.effect_writes import EffectWrites
    from runtime.envelope import Envelope
    from runtime.stores.base import EffectStore
    from runtime.stores.leases import Lease


class RowBroker(Broker):
    """A durable broker whose channels are rows in ``store``'s database."""

    durable = True
    statements: ClassVar[ModuleType]
    effect_rows: ClassVar[ModuleType]
    channel_type: ClassVar[type[RowQueue]]

    store: object
    _writes: BatchCommit
    _logger: FilteringBoundLogger

    @property
    def transactions(self) -> int:
        """Transactions committed so far: far fewer than writes when they come together."""
        return self._writes.transactions

    async def delete_flow(self, flow_id: str) -> int:
        deleted: int = await self._writes.submit(partial(self.statements.delete_flow, flow_id))
        return deleted

    def atomic_with(self, store: object) -> bool:
        return store is self.store

    def effect_writes(self, store: EffectStore) -> EffectWrites:
        """Through this broker's commits when ``store`` is its own (see
        :mod:`runtime.brokers.effect_outbox`)."""
        if store is self.store:
            return QueuedEffectWrites(store, self._writes, self.effect_rows, self._logger)
        return super().effect_writes(store)

    async def commit_unit(
        self,
        writes: Sequence[StateWrite],
        sends: Sequence[tuple[Channel, Envelope]],
        *,
        lease: Lease | None = None,
    ) -> None:
        targets: list[tuple[RowQueue, Envelope]] = []
        rows: list[tuple[str, str, str]] = []
        for channel, envelope in sends:
            if not isinstance(channel, self.channel_type):
                raise TypeError(f"{channel!r} is not a channel of this broker")
            targets.append((channel, envelope))
            rows.append((channel.flow_id, channel.component_id, codec.encode_envelope(envelope)))

        def published(seqs: list[int]) -> None:
            for (channel, envelope), seq in zip(targets, seqs, strict=True):
                channel._append(seq, envelope)

        work = partial(self.statements.commit_unit, list(writes), rows, time.time(), lease)
        await self._writes.submit(work, on_commit=published)

    async def flush(self) -> None:
        """Wait until every write made so far is committed."""
        await self._writes.flush()

    async def close(self) -> None:
        await self.flush()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
