"""How the effects ledger (:mod:`runtime.effects`) reads and writes its records.

:class:`EffectWrites` goes straight to the store: each call is one round trip and one commit.
A durable broker whose rows share the store's database hands out its own
(``Broker.effect_writes``), which puts every call in the broker's group-commit queue (an
outbox): the claims of concurrent workers share one transaction with each other and with the
publishes and acknowledgements queued at the same time.

The promise that makes the difference worth having is :meth:`EffectWrites.put_before_ack`: a
record that must be committed *no later than* the acknowledgement of the message being
handled, not before the caller goes on. Queued ahead of the hop's publish and ack in one
first-in-first-out queue of transactions, it commits in the same transaction as they do or an
earlier one; a crash before that commit loses the ack too, so the message comes again and
finds the attempt's claim (uncertain), exactly as if the process had died before the write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    from runtime.stores.base import EffectRecord, EffectStore

EffectName = tuple[str, str, str, str]
"""``(flow_id, component_id, correlation_id, digest)``: one effect's record."""


class EffectWrites:
    """The ledger's calls, each straight to ``store`` (awaited, so committed on return).

    A subclass may batch them, but every read must see every write made before it through the
    same object (the ledger reads its own writes back).
    """

    __slots__ = ("store",)

    def __init__(self, store: EffectStore) -> None:
        self.store = store

    async def get(self, name: EffectName) -> EffectRecord | None:
        """The record of effect ``name``, or None."""
        return await self.store.get_effect(*name)

    async def claim(self, record: EffectRecord) -> bool:
        """``EffectStore.claim_effect``, committed when it returns True."""
        return await self.store.claim_effect(record)

    async def put(self, record: EffectRecord) -> None:
        """Keep ``record``, committed when this returns."""
        await self.store.put_effect(record)

    async def put_before_ack(self, record: EffectRecord) -> None:
        """Keep ``record``, committed no later than the acknowledgement the caller makes next
        (here: before this returns)."""
        await self.store.put_effect(record)

    async def claimed(self, refs: Collection[str]) -> set[str]:
        """Those of ``refs`` that completed effects made."""
        return await self.store.claimed_refs(refs)
