"""The in-memory broker: bounded queues in this process, the fastest and not crash-safe."""

from __future__ import annotations

import asyncio
import collections
import sys
from typing import TYPE_CHECKING

import structlog

from runtime.brokers.base import Broker, Channel
from runtime.brokers.from_thread import ThreadIntake
from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.local_effects import LocalEffectWrites
from runtime.brokers.waiters import WaiterList
from runtime.brokers.waiters import wait as _wait
from runtime.brokers.waiters import wake_next as _wake_next
from runtime.stores import sqlite_effect_rows
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from runtime.effect_writes import EffectWrites
    from runtime.envelope import Envelope
    from runtime.stores.base import DeadLetter, EffectStore, Store


class MemoryChannel(ThreadIntake, Channel):
    """A bounded FIFO with waiting ``get``/``put`` plus timers for delayed retries.

    It follows :class:`asyncio.Queue`'s waiter protocol (futures woken one at a time, a
    cancelled waiter passing its wake-up on) without the task-tracking that the engine does not
    use; ``offer`` and ``get_nowait`` are the allocation-free fast paths of the hot loop.
    The bound covers ready envelopes plus ``_aside``: those delayed or parked (kept apart from
    the deque so that taking one costs nothing more than before).
    """

    needs_ack = False

    def __init__(self, maxsize: int, broker: MemoryBroker | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._broker = broker
        self._aside = 0
        self._items: collections.deque[Envelope] = collections.deque()
        # Lists, not deques: a server may hold two channels per flow for ten thousand flows,
        # and a channel rarely has more than its workers waiting.
        self._getters = WaiterList()
        self._putters = WaiterList()
        self._delayed: dict[Envelope, asyncio.TimerHandle] = {}
        self._init_thread_intake()

    # -- hot path ------------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        if len(self._items) + self._aside + self._incoming >= self._maxsize:
            return False
        self._items.append(envelope)
        if self._getters:
            _wake_next(self._getters)
        return True

    def get_nowait(self) -> Envelope | None:
        if not self._items:
            return None
        envelope = self._items.popleft()
        if self._putters:
            _wake_next(self._putters)
        return envelope

    async def put(self, envelope: Envelope) -> None:
        while not self.offer(envelope):
            await _wait(self._putters, self._has_room)

    async def get(self) -> Envelope:
        while not self._items:
            await _wait(self._getters, self._has_items)
        envelope = self.get_nowait()
        assert envelope is not None
        return envelope

    async def wait_for_room(self) -> None:
        while not self._has_room():
            await _wait(self._putters, self._has_room)

    def _has_room(self) -> bool:
        return len(self._items) + self._aside + self._incoming < self._maxsize

    def _held(self) -> int:
        return len(self._items) + self._aside + self._incoming

    def _has_items(self) -> bool:
        return bool(self._items)

    def _ready(self, envelope: Envelope) -> None:
        """Hand out an envelope the bound already counts (due, unparked)."""
        self._items.append(envelope)
        if self._getters:
            _wake_next(self._getters)

    # -- delivery outcome ----------------------------------------------------------------

    async def ack(self, envelope: Envelope) -> None:
        return None

    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        handle = asyncio.get_running_loop().call_later(delay, self._due, envelope)
        self._delayed[envelope] = handle
        self._aside += 1

    def _due(self, envelope: Envelope) -> None:
        if self._delayed.pop(envelope, None) is not None:
            self._aside -= 1
            self._ready(envelope)

    async def park(self, envelope: Envelope, error: str) -> None:
        self._aside += 1  # the engine keeps it (in memory); the bound counts it here

    async def unpark(self, envelope: Envelope) -> None:
        self._aside -= 1
        self._ready(envelope)

    def depth(self) -> int:
        return len(self._items) + len(self._delayed) + self._incoming

    def due_before(self, deadline: float) -> bool:
        return bool(self._items) or any(h.when() < deadline for h in self._delayed.values())

    def stopping(self) -> None:
        self._maxsize = sys.maxsize
        while self._putters:
            _wake_next(self._putters)

    def drain(self) -> list[Envelope]:
        held = list(self._delayed)
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        held.extend(self._items)
        self._items.clear()
        self._aside = 0
        return held

    async def dead_letter(self, envelope: Envelope, letter: DeadLetter, store: Store) -> None:
        # The letter may be retried after a restart: its effects' records go first.
        if self._broker is not None:
            await self._broker.settle_effects()
        await super().dead_letter(envelope, letter, store)

    def arrive_from_thread(self, envelope: Envelope, row: int | None) -> None:
        self._items.append(envelope)  # its room was reserved
        self._landed()
        if self._getters:
            _wake_next(self._getters)


class MemoryBroker(Broker):
    """Channels that live in this process only."""

    durable = False

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], MemoryChannel] = {}
        self._effect_commits: dict[SQLiteStore, GroupCommit] = {}  # one per store, not per flow
        self._effects: dict[SQLiteStore, LocalEffectWrites] = {}

    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> MemoryChannel:
        key = (flow_id, component_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = MemoryChannel(maxsize, self)
        return channel

    def release(self, flow_id: str) -> None:
        for key in [k for k in self._channels if k[0] == flow_id]:
            del self._channels[key]

    def effect_writes(self, store: EffectStore) -> EffectWrites:
        """With a SQLite store, the ledger keeps the records of this process's events in
        memory and writes them behind, group-committed in the store's file
        (:mod:`runtime.brokers.local_effects`: nothing here outlives the process but dead
        letters, which wait for those writes); otherwise straight to the store."""
        if not isinstance(store, SQLiteStore):
            return super().effect_writes(store)
        writes = self._effects.get(store)
        if writes is None:
            logger = structlog.get_logger("flowmixer.broker")
            commits = self._effect_commits[store] = GroupCommit(store, logger=logger)
            writes = self._effects[store] = LocalEffectWrites(
                store, commits, sqlite_effect_rows, logger
            )
        return writes

    async def settle_effects(self) -> None:
        """Return once every effect record written so far is committed to its store."""
        for writes in self._effects.values():
            await writes.settle()

    async def close(self) -> None:
        for writes in self._effects.values():
            writes.write_pending()
        for commits in self._effect_commits.values():  # results still queued
            await commits.flush()
