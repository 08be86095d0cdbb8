"""The effects ledger's calls as writes of a durable broker's group commit (an outbox).

Every call becomes a work of the broker's :class:`~runtime.brokers.group_commit.BatchCommit`,
so claims, results, publishes and acknowledgements made at the same time share one
transaction. That queue runs its transactions one after another, each write in the order it
was submitted, on both databases: a read sees every write submitted before it, and a result
submitted before an ack commits in the ack's transaction or an earlier one (see
:mod:`runtime.effect_writes`). A database gives the works (``statements``: a module such as
``runtime.stores.sqlite_effect_rows``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from runtime.effect_writes import EffectWrites

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Collection

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.group_commit import BatchCommit
    from runtime.stores.base import EffectRecord, EffectStore


class EffectStatements(Protocol):
    """The works of one database, each bound to its arguments (the effect's name, a record
    encoded on the caller's side, or refs)."""

    get: Callable[..., Any]
    claim: Callable[..., Any]
    put: Callable[..., Any]
    claimed: Callable[..., Any]


class QueuedEffectWrites(EffectWrites):
    """The ledger's calls queued in ``writes``, the group commit of a broker in ``store``'s
    database, as ``statements`` says."""

    __slots__ = ("_logger", "_statements", "_writes")

    def __init__(
        self,
        store: EffectStore,
        writes: BatchCommit,
        statements: EffectStatements,
        logger: FilteringBoundLogger,
    ) -> None:
        super().__init__(store)
        self._writes = writes
        self._statements = statements
        self._logger = logger

    async def get(self, name: tuple[str, str, str, str]) -> EffectRecord | None:
        record: EffectRecord | None = await self._writes.submit(self._statements.get(name))
        return record

    async def claim(self, record: EffectRecord) -> bool:
        won: bool = await self._writes.submit(self._statements.claim(record))
        return won

    async def put(self, record: EffectRecord) -> None:
        await self._writes.submit(self._statements.put(record))

    async def put_before_ack(self, record: EffectRecord) -> None:
        # Not awaited: queued ahead of the caller's publish and ack, it commits with them or
        # before them.
        self._writes.submit(self._statements.put(record)).add_done_callback(self._failed)

    def _failed(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            self._logger.error(
                "an effect's record could not be written", error=f"{type(error).__name__}: {error}"
            )

    async def claimed(self, refs: Collection[str]) -> set[str]:
        found: set[str] = await self._writes.submit(self._statements.claimed(list(refs)))
        return found
