"""One component's durable input queue on PostgreSQL (see :mod:`runtime.brokers.postgres`).

The rows this broker holds are mirrored in memory (ready, delayed, taken, parked), as the
SQLite broker's are, so ``get`` never reads the database; rows come in by this channel's own
puts, by ``restore`` at the flow's start, and by the broker's sweep (``take``), which claims
the rows a dead broker left.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from runtime.brokers.base import Channel
from runtime.brokers.row_queue import RowQueue, RowStatements
from runtime.stores import codec
from runtime.stores import postgres_messages as sql

if TYPE_CHECKING:
    from runtime.brokers.postgres_commit import PostgresCommit
    from runtime.envelope import Envelope


class PostgresChannel(RowQueue, Channel):
    """The input queue of one component, durable in the ``messages`` table.

    ``offer`` always declines (a durable publish waits for its commit). The bound counts
    messages ready, delayed and parked in memory plus puts being committed. Messages from
    another thread are declined (``reserve_from_thread``): they go through the channel's loop.
    """

    rows: ClassVar[RowStatements] = sql
    _writes: PostgresCommit

    def _has_room(self) -> bool:
        return self.room() > 0

    def room(self) -> int:
        """Places left under the bound."""
        held = len(self._ready) + len(self._delayed) + len(self._parked) + self._reserved
        return self._maxsize - held

    # -- in and out ------------------------------------------------------------------------

    # -- delivery outcome ------------------------------------------------------------------

    def depth(self) -> int:
        return len(self._ready) + len(self._delayed)

    # -- parking, restarting, and rows taken over ------------------------------------------

    async def restore(self) -> list[tuple[Envelope, str]]:
        if self.restored:
            return []
        self.restored = True
        # Through the write queue, so it reads after every write submitted before it.
        rows = await self._writes.submit(partial(sql.claim, self.flow_id, self.component_id, None))
        return self.take(rows)

    def take(self, rows: list[Any]) -> list[tuple[Envelope, str]]:
        """Hold ``rows`` claimed for this channel: ready, delayed or parked by their columns;
        the parked ones are returned with why they were parked."""
        loop = asyncio.get_running_loop()
        now = time.time()
        parked: list[tuple[Envelope, str]] = []
        for row in rows:
            seq, envelope = row["seq"], codec.decode_envelope(row["envelope_json"])
            if row["parked"]:
                self._parked[envelope] = seq
                parked.append((envelope, row["error"] or ""))
            elif row["available_at"] <= now:
                self._append(seq, envelope)
            else:
                handle = loop.call_later(row["available_at"] - now, self._due, envelope)
                self._delayed[envelope] = (seq, handle)
        return parked
