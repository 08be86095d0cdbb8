"""A polling trigger's tick as one unit of work: its state and its messages commit together.

A trigger that polls typically sends what it found and then records it in its state. With a
broker that is :meth:`~runtime.brokers.base.Broker.atomic_with` the engine's store, the engine
runs each tick with a :class:`TickUnit` in place of the node: ``context.state`` writes and
``context.send`` calls are held (reads see the held writes) and :meth:`TickUnit.commit` writes
them all in one transaction when the tick returns, each state write fenced by the version the
tick read (:class:`~runtime.errors.StaleStateError` when another ticker saved first: then
nothing of the tick commits). A tick that raises, or whose process dies,
before that commit commits nothing, so the next tick finds the same items again: none is lost
and none is sent twice. A tick cancelled while its commit is already under way (a stop that
timed out) may still commit all of it; never part. Components need no change.

With the trigger's ``lease`` (processes sharing a database take turns, see :mod:`runtime.leases`)
the commit is also fenced by the lease's token, in the same transaction: a tick whose trigger
passed to another process meanwhile commits nothing
(:class:`~runtime.errors.LeaseLostError`). Without a broker that commits with the store, a
leased tick's messages are sent as they are made and its state writes alone commit, fenced, at
the end (:meth:`~runtime.stores.leases.LeaseStore.commit_tick_state`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.component import State
from runtime.stores import codec
from runtime.stores.base import VersionedState

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from runtime.brokers.base import Broker, Channel, StateWrite
    from runtime.component import Context
    from runtime.envelope import Envelope
    from runtime.node import Node, Pending
    from runtime.stores.base import StateStore
    from runtime.stores.leases import Lease, LeaseStore

_DELETED = None


class _HeldState:
    """The state store as one tick sees it: the committed values under the tick's own writes.

    Each write is fenced by the version the tick read of its key (or the one it gave), so the
    commit fails, and nothing of the tick is sent, when another writer (another process ticking
    the same trigger) saved that key since.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        # key -> (JSON text or None once deleted, the version the commit expects or None)
        self.writes: dict[str, tuple[str | None, int | None]] = {}
        self._read: dict[str, int] = {}  # key -> the version first read from the store

    async def get_versioned_state(
        self, flow_id: str, component_id: str, key: str
    ) -> VersionedState:
        if key in self.writes:
            text, expected = self.writes[key]
            value = None if text is _DELETED else codec.decode(text)
            return VersionedState(value, self._read.get(key, 0) if expected is None else expected)
        found = await self._store.get_versioned_state(flow_id, component_id, key)
        self._read.setdefault(key, found.version)
        return found

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any:
        return (await self.get_versioned_state(flow_id, component_id, key)).value

    async def set_state(
        self,
        flow_id: str,
        component_id: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> None:
        fence = self._read.get(key) if expected_version is None else expected_version
        self.writes[key] = (codec.encode_state(key, value), fence)

    async def delete_state(self, flow_id: str, component_id: str, key: str) -> None:
        self.writes[key] = (_DELETED, self._read.get(key))

    async def delete_flow_state(self, flow_id: str) -> int:
        raise NotImplementedError("a tick cannot delete its flow's state")


class TickUnit:
    """What one tick's :class:`~runtime.component.Context` uses instead of its node: its own
    ``state`` and ``emit``, the node's everything else."""

    def __init__(
        self,
        node: Node,
        broker: Broker | None,
        store: StateStore,
        pending: Pending,
        *,
        lease: Lease | None = None,
        leases: LeaseStore | None = None,
    ) -> None:
        if broker is None and (lease is None or leases is None):
            raise ValueError("a tick unit without a broker needs a lease and its store")
        self._node = node
        self._broker = broker
        self._lease = lease
        self._leases = leases
        self._pending = pending
        self._held = _HeldState(store)
        self._sends: list[tuple[Channel, Envelope]] = []
        self.flow_id = node.flow_id
        self.component_id = node.component_id
        self.state = State(self._held, node.flow_id, node.component_id)

    def __getattr__(self, name: str) -> Any:
        # Everything but state and sending is the node's own (properties, auth, logger...).
        return getattr(self._node, name)

    def emit(self, context: Context, payload: Any, port: str) -> Awaitable[None]:
        if self._broker is None:  # nothing to commit messages with: sent as they are made
            return self._node.emit(context, payload, port)
        return self._node.emit(context, payload, port, hold=self._sends)

    async def commit(self) -> None:
        """Write the held state and publish the held messages in one transaction."""
        sends, self._sends = self._sends, []
        writes: list[StateWrite] = [
            (self.flow_id, self.component_id, key, text, fence)
            for key, (text, fence) in self._held.writes.items()
        ]
        self._held.writes = {}
        if not sends and not writes:
            return
        try:
            if self._broker is not None:
                await self._broker.commit_unit(writes, sends, lease=self._lease)
            else:
                assert self._leases is not None
                assert self._lease is not None
                await self._leases.commit_tick_state(writes, self._lease)
        except BaseException:
            self._forget(len(sends))
            raise

    def abandon(self) -> None:
        """Drop what the tick held: nothing of it is written or sent."""
        self._held.writes = {}
        sends, self._sends = self._sends, []
        self._forget(len(sends))

    def _forget(self, count: int) -> None:
        for _ in range(count):  # they were counted as pending when sent
            self._pending.done()
