"""The broker contract the engine relies on.

A broker owns one :class:`Channel` per (flow, component): the component's input queue. The
engine ``put``s envelopes for a component into its channel, the component's workers ``get``
them, and each delivery ends in exactly one ``ack`` (done, whether by effect or dead letter) or
``retry_later`` (delivered again after a delay).

The bound (``maxsize``) counts every envelope the channel holds: ready, delayed for a retry
(deferrals too) and parked, plus puts being committed; only envelopes a handler is working on
are outside it. ``put`` and ``admit`` wait for room; a retry, a deferral, an unpark and a
restore never do, because the envelope is already held (waiting there could deadlock a
component whose successors are full), so these may take a channel past its bound by at most
the envelopes in its handlers. A durable broker keeps unacknowledged envelopes
across a crash and delivers them again after a restart; a non-durable one loses what it holds
when the process dies, so on a graceful stop the engine ``drain``s it into the dead letters.

A durable broker also keeps *parked* envelopes (waiting for an account to be re-authorized:
``park``, then ``unpark`` on resume) and hands back what it kept at the flow's next start
(``restore``). One whose ``atomic_with`` the engine's store is true commits a polling trigger's
tick (state writes and sent envelopes) in one transaction (``commit_unit``). The non-durable
defaults below make ``park`` an ``ack`` and keep nothing.

A channel may also take messages from another thread (the server's front, which answers
webhooks while the engine's loop is busy): ``reserve_from_thread`` counts one against the bound
from any thread (``reserve_on_loop`` does so on the channel's loop, for a thread that waited
for room), then exactly one ``arrive_from_thread`` or ``cancel_from_thread`` runs on the
channel's loop. Such reservations count against the bound like any held message. The default
declines, so the caller goes through the channel's loop instead.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from runtime.effect_writes import EffectWrites

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Sequence

    from runtime.envelope import Envelope
    from runtime.stores.base import DeadLetter, EffectStore, IdempotencyKey, Store
    from runtime.stores.leases import Lease

StateWrite = tuple[str, str, str, "str | None", "int | None"]
"""``(flow_id, component_id, key, value as JSON text or None to delete, expected version or
None)``: one state change, refused with :class:`~runtime.errors.StaleStateError` (and its whole
unit with it) when the stored version is not the expected one."""


class Channel(ABC):
    """The input queue of one component of one flow."""

    #: False when ``ack`` does nothing, so the engine can skip awaiting it.
    needs_ack: ClassVar[bool] = True

    @abstractmethod
    async def put(self, envelope: Envelope) -> None:
        """Publish an envelope; waits while the channel is full (backpressure)."""

    @abstractmethod
    async def get(self) -> Envelope:
        """The next envelope to handle; waits while there is none."""

    def offer(self, envelope: Envelope) -> bool:
        """Publish without waiting if there is room now; False (nothing done) otherwise."""
        return False

    @abstractmethod
    async def wait_for_room(self) -> None:
        """Return once the bound has room (without taking it: a publish may still wait)."""

    async def admit(
        self,
        envelope: Envelope,
        wait: float | None,
        *,
        key: IdempotencyKey | None = None,
        store: Store | None = None,
    ) -> bool:
        """Publish ``envelope`` if the bound has room within ``wait`` seconds (``None``: as
        long as it takes); False, with nothing published, if it has not.

        With ``key``, record it for the envelope's event in ``store`` as well
        (:class:`~runtime.errors.DuplicateEventError`, nothing published, if it names another
        event). A channel whose rows live in ``store`` commits both in one transaction; this
        default records the key first, so a failure to record it publishes nothing. Once room
        is found, the publish is not given up for the wait: a durable one returns committed.
        """
        try:
            async with asyncio.timeout(wait):
                await self.wait_for_room()
        except TimeoutError:
            return False
        if key is not None:
            assert store is not None, "a key is recorded in a store"
            await store.add_hook_key(envelope.flow_id, envelope.component_id, key, envelope.id)
        if not self.offer(envelope):
            await self.put(envelope)
        return True

    def get_nowait(self) -> Envelope | None:
        """An envelope that is ready now, or ``None`` (the caller then awaits ``get``)."""
        return None

    @abstractmethod
    async def ack(self, envelope: Envelope) -> None:
        """The delivery of ``envelope`` is finished for good."""

    @abstractmethod
    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        """Deliver ``envelope`` again after ``delay`` seconds (``attempt`` already raised)."""

    @abstractmethod
    def depth(self) -> int:
        """Envelopes waiting in this channel, including those waiting for a retry."""

    def reported_depth(self) -> int:
        """The depth ``/metrics`` and the admin API show: :meth:`depth`, unless the channel is
        shared by several processes (then theirs together)."""
        return self.depth()

    @abstractmethod
    def drain(self) -> list[Envelope]:
        """Take every envelope still held (waiting or delayed); non-durable brokers, on stop."""

    def stopping(self) -> None:
        """The flow is stopping: publishes stop waiting for room (the handlers still at work
        must be able to finish); a durable channel also stops handing out envelopes, which it
        keeps for the next start."""

    def due_before(self, deadline: float) -> bool:
        """Whether an envelope is ready, or a delayed one falls due before ``deadline`` (the
        event loop's clock): whether a stop has something to wait for. This default says yes
        whenever the channel holds anything."""
        return self.depth() > 0

    async def dead_letter(self, envelope: Envelope, letter: DeadLetter, store: Store) -> None:
        """Keep ``letter`` (of ``envelope``) in ``store`` and acknowledge ``envelope``.

        A channel whose rows live in ``store`` does both in one transaction; the default
        writes the letter first, so a crash in between leaves the message to be delivered
        again rather than lost.
        """
        await store.add_dead_letter(letter)
        await self.ack(envelope)

    async def park(self, envelope: Envelope, error: str) -> None:
        """Finish this delivery of ``envelope``, keeping it for :meth:`unpark` (why: ``error``).

        A durable channel keeps it across a restart; the default only acknowledges it (the
        engine holds parked envelopes in memory).
        """
        await self.ack(envelope)

    async def unpark(self, envelope: Envelope) -> None:
        """Deliver a parked ``envelope`` again (``attempt`` already reset)."""
        if not self.offer(envelope):
            await self.put(envelope)

    async def restore(self) -> list[tuple[Envelope, str]]:
        """Take up what a durable channel kept from before (once, before the first ``get``).

        Kept envelopes become ready again (``depth`` counts them); the parked ones are returned
        with why they were parked. The default keeps nothing.
        """
        return []

    # -- messages from another thread ------------------------------------------------------

    def reserve_from_thread(self) -> bool:
        """(Any thread.) Count one message that another thread will hand over against the
        bound; False, with nothing counted, when the channel is full or takes no such message.
        """
        return False

    def reserve_on_loop(self) -> bool:
        """(The channel's loop.) As :meth:`reserve_from_thread`, for a message that another
        thread will hand over, made on the channel's own loop (where one place is enough)."""
        return False

    def arrive_from_thread(self, envelope: Envelope, row: int | None) -> None:
        """(The channel's loop.) The reserved message is here: ready now, ahead of the bound.

        ``row`` is the message's committed row in a durable channel's table, ``None`` otherwise.
        """
        raise NotImplementedError(f"{type(self).__name__} takes no message from another thread")

    def cancel_from_thread(self) -> None:
        """(The channel's loop.) The reserved message will not come: its room is free again."""
        raise NotImplementedError(f"{type(self).__name__} takes no message from another thread")


class Broker(ABC):
    """A factory of channels with a lifecycle."""

    #: Whether unacknowledged envelopes survive the process.
    durable: ClassVar[bool] = False

    @abstractmethod
    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> Channel:
        """The channel of ``component_id`` in ``flow_id`` (the same object on every call)."""

    @abstractmethod
    def release(self, flow_id: str) -> None:
        """Forget the channels of a flow that has stopped (a durable broker keeps its messages)."""

    async def delete_flow(self, flow_id: str) -> int:
        """Drop every message kept for ``flow_id`` (the flow is deleted); how many went."""
        return 0

    async def take_strays(
        self,
        flow_id: str,
        components: Collection[str],
        keep: Callable[[Envelope], Awaitable[None]],
    ) -> int:
        """Hand each message kept for a component of ``flow_id`` not in ``components`` (the
        flow was changed while it waited) to ``keep`` (which dead-letters it), then drop it;
        how many. A message is dropped only after ``keep`` returned for it, so a failure loses
        none; it is handed over again at the next start (``keep`` should then replace, not add).
        """
        return 0

    def atomic_with(self, store: object) -> bool:
        """Whether :meth:`commit_unit` can write ``store``'s state with messages atomically."""
        return False

    async def commit_unit(
        self,
        writes: Sequence[StateWrite],
        sends: Sequence[tuple[Channel, Envelope]],
        *,
        lease: Lease | None = None,
    ) -> None:
        """Apply state ``writes`` and publish ``sends`` (ignoring the bound) all or nothing;
        with ``lease`` (a polling trigger's), only while it still holds its name with its
        token, else :class:`~runtime.errors.LeaseLostError` and nothing is done."""
        raise NotImplementedError(f"{type(self).__name__} cannot commit units of work")

    def effect_writes(self, store: EffectStore) -> EffectWrites:
        """How the effects ledger reaches its records in ``store``: this default goes straight
        to the store; a broker ``atomic_with`` it may queue them with its own commits."""
        return EffectWrites(store)

    def servers(self) -> dict[str, bool]:
        """Whether each server the broker needs (beyond the store) was reachable when last
        seen, by name (``{"redis": True}``); none by default. A plain read, safe from any
        thread."""
        return {}

    async def close(self) -> None:
        """Release connections and files."""
