"""The in-memory broker: bounded queues in this process, the fastest and not crash-safe."""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING

from runtime.brokers.base import Broker, Channel
from runtime.brokers.from_thread import ThreadIntake
from runtime.brokers.waiters import wait as _wait
from runtime.brokers.waiters import wake_next as _wake_next

if TYPE_CHECKING:
    from runtime.envelope import Envelope


class MemoryChannel(ThreadIntake, Channel):
    """A bounded FIFO with waiting ``get``/``put`` plus timers for delayed retries.

    It follows :class:`asyncio.Queue`'s waiter protocol (futures woken one at a time, a
    cancelled waiter passing its wake-up on) without the task-tracking that the engine does not
    use; ``offer`` and ``get_nowait`` are the allocation-free fast paths of the hot loop.
    """

    needs_ack = False

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._items: collections.deque[Envelope] = collections.deque()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._delayed: dict[Envelope, asyncio.TimerHandle | None] = {}
        self._requeues: set[asyncio.Task[None]] = set()
        self._init_thread_intake()

    # -- hot path ------------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        if len(self._items) + self._incoming >= self._maxsize:
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
        while len(self._items) + self._incoming >= self._maxsize:
            await _wait(self._putters, self._has_room)
        self.offer(envelope)

    async def get(self) -> Envelope:
        while not self._items:
            await _wait(self._getters, self._has_items)
        envelope = self.get_nowait()
        assert envelope is not None
        return envelope

    def _has_room(self) -> bool:
        return len(self._items) + self._incoming < self._maxsize

    def _held(self) -> int:
        return len(self._items) + self._incoming

    def _has_items(self) -> bool:
        return bool(self._items)

    # -- delivery outcome ----------------------------------------------------------------

    async def ack(self, envelope: Envelope) -> None:
        return None

    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        handle = asyncio.get_running_loop().call_later(delay, self._due, envelope)
        self._delayed[envelope] = handle

    def _due(self, envelope: Envelope) -> None:
        if envelope not in self._delayed:
            return
        if self.offer(envelope):
            del self._delayed[envelope]
            return
        # Full: it stays counted as delayed until there is room.
        self._delayed[envelope] = None
        task = asyncio.get_running_loop().create_task(self._put_when_room(envelope))
        self._requeues.add(task)
        task.add_done_callback(self._requeues.discard)

    async def _put_when_room(self, envelope: Envelope) -> None:
        await self.put(envelope)
        self._delayed.pop(envelope, None)

    def depth(self) -> int:
        return len(self._items) + len(self._delayed) + self._incoming

    def drain(self) -> list[Envelope]:
        for task in self._requeues:
            task.cancel()
        held = list(self._delayed)
        for handle in self._delayed.values():
            if handle is not None:
                handle.cancel()
        self._delayed.clear()
        held.extend(self._items)
        self._items.clear()
        return held

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

    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> MemoryChannel:
        key = (flow_id, component_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = MemoryChannel(maxsize)
        return channel

    def release(self, flow_id: str) -> None:
        for key in [k for k in self._channels if k[0] == flow_id]:
            del self._channels[key]
