"""Webhook events that a running flow takes from another thread, without waiting for its loop.

The server's front answers webhooks on its own event loop while the engine's loop may be busy
(a handler that blocks it). For each event the front:

1. reserves room (:meth:`ThreadHandover.reserve`): the event counts against its channel's
   bound, and as pending, from then on;
2. commits the event itself when the broker is durable (the channel gives it the row to
   write, its own writer commits it on the store's thread), then answers 202;
3. hands it over (:meth:`ThreadHandover.hand_over`): the flow's loop queues it when it gets to
   it; or gives it up (:meth:`ThreadHandover.withdraw`) when the commit failed.

Exact accounting: the pending count is raised by a callback queued on the flow's loop at
reservation, before anything the front queues there afterwards (the hand-over, a later admin
call), so a ``wait_idle`` asked for after a 202 waits for that event. Reservations are made
only while the flow is running or paused, under a lock that ``FlowRunner.stop`` holds to turn
it to "stopping"; the stop then waits for the events handed over before halting its workers.
An event that arrives later than the stop's timeout is not lost: a durable broker has its row
(delivered at the next start), the in-memory broker's goes to the dead letters.

Waiting for room: room frees only on the flow's loop (a worker takes a message), so a caller
that found the channel full asks that loop for it (:meth:`ThreadHandover.ask_for_room`): a
task there waits for room as a publish would and reserves it (on its own loop a reservation
needs one place, not the two a reservation from another thread needs), then hands the
reservation to the caller's ``deliver``. The caller never waits for the flow's loop: it waits
on its own for the delivery, for as long as it chooses, and gives back what comes too late.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, TypeAlias

from runtime.errors import EngineError

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.brokers.base import Channel
    from runtime.envelope import Envelope
    from runtime.flow_runner import FlowRunner


Deliver: TypeAlias = "Callable[[Channel | EngineError], None]"
"""Where room reserved on the flow's loop goes: called there with the channel, or the refusal."""


class ThreadHandover:
    """The events one flow takes from another thread (``FlowRunner.from_thread``)."""

    def __init__(self, runner: FlowRunner, *, durable: bool) -> None:
        self.lock = threading.Lock()
        """Held to change the runner's status to "stopping": no reservation after it."""
        self.halted = False
        """Set on the flow's loop once its workers stop: an event arriving then is late."""
        self._runner = runner
        self._durable = durable
        self._loop = asyncio.get_running_loop()
        self._in_transit = 0  # reserved, not yet arrived or withdrawn
        self._settled: asyncio.Future[None] | None = None
        self._late: set[asyncio.Task[None]] = set()
        self._asks: dict[str, int] = {}  # component -> reservations asked for, not delivered
        # component -> the task reserving room for it, and where that room goes
        self._watches: dict[str, tuple[asyncio.Task[None], Deliver]] = {}

    @property
    def flow_id(self) -> str:
        return self._runner.plan.id

    def reserve(self, component_id: str) -> Channel | None:
        """(Any thread.) Make room for one event of webhook ``component_id``: the channel to
        commit it for, or ``None`` when that channel is full or takes no event from another
        thread (then :meth:`ask_for_room`). Raises :class:`EngineError` where
        ``FlowRunner.push`` would."""
        return self._reserve(component_id, here=False)

    def ask_for_room(self, component_id: str, deliver: Deliver) -> None:
        """(Any thread.) Reserve room for one event of ``component_id`` on the flow's loop as
        soon as there is some; ``deliver`` (called on the flow's loop, so it must hand over to
        its own thread safely) gets the channel, reserved as by :meth:`reserve`, or the
        :class:`EngineError` that refuses every event (the flow is stopping)."""
        self._loop.call_soon_threadsafe(self._ask, component_id, deliver)

    def unask(self, component_id: str) -> None:
        """(Any thread.) One reservation asked for is not wanted any more."""
        self._loop.call_soon_threadsafe(self._unask, component_id)

    def _reserve(self, component_id: str, *, here: bool) -> Channel | None:
        runner = self._runner
        node = runner.nodes.get(component_id)
        if node is None or not node.plan.webhook:
            raise EngineError(f"flow {runner.plan.id!r} has no webhook trigger {component_id!r}")
        with self.lock:
            if runner.status not in ("running", "paused"):
                raise EngineError(
                    f"flow {runner.plan.id!r} is {runner.status}; it accepts no events"
                )
            channel = node.channel
            if not (channel.reserve_on_loop() if here else channel.reserve_from_thread()):
                return None
            self._in_transit += 1
        if here:
            runner.pending.add()
        else:
            self._loop.call_soon_threadsafe(runner.pending.add)
        return node.channel

    def hand_over(self, channel: Channel, envelope: Envelope, row: int | None) -> None:
        """(Any thread.) The reserved event, with its committed ``row`` if the broker is durable."""
        self._loop.call_soon_threadsafe(self._arrive, channel, envelope, row)

    def withdraw(self, channel: Channel) -> None:
        """(Any thread.) The reserved event will not come."""
        self._loop.call_soon_threadsafe(self._withdraw, channel)

    async def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the reserved events to arrive (call once the
        status is "stopping": no reservation is made after it, so their number only falls)."""
        if self._in_transit:
            self._settled = self._loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._settled), timeout)

    def halt(self) -> None:
        """(The flow's loop.) The workers stop: later events are late, asks are dropped."""
        self.halted = True
        refused = self._refusal()
        for component_id, (task, deliver) in self._watches.items():
            task.cancel()
            if self._asks.get(component_id):
                self._asks[component_id] = 0
                deliver(refused)

    # -- on the flow's loop ----------------------------------------------------------------

    def _ask(self, component_id: str, deliver: Deliver) -> None:
        if self.halted:
            deliver(self._refusal())
            return
        self._asks[component_id] = self._asks.get(component_id, 0) + 1
        watch = self._watches.get(component_id)
        if watch is None or watch[0].done():
            task = self._loop.create_task(self._watch(component_id, deliver))
            self._watches[component_id] = (task, deliver)

    def _refusal(self) -> EngineError:
        return EngineError(f"flow {self.flow_id!r} is {self._runner.status}; it accepts no events")

    def _unask(self, component_id: str) -> None:
        if self._asks.get(component_id, 0) > 0:
            self._asks[component_id] -= 1

    async def _watch(self, component_id: str, deliver: Deliver) -> None:
        """Reserve room for ``component_id`` whenever it frees, while some is asked for."""
        while self._asks.get(component_id, 0) > 0:
            try:
                node = self._runner.nodes.get(component_id)
                if node is not None:
                    await node.channel.wait_for_room()  # a stop wakes it: then it raises below
                channel = self._reserve(component_id, here=True)
            except EngineError as exc:
                self._asks[component_id] = 0
                deliver(exc)
                return
            if channel is None:  # another thread took the room first: wait again
                continue
            if not self._asks.get(component_id):  # given up meanwhile: the room goes on
                self._withdraw(channel)
                return
            self._asks[component_id] -= 1
            deliver(channel)

    def _arrive(self, channel: Channel, envelope: Envelope, row: int | None) -> None:
        if not self.halted:
            channel.arrive_from_thread(envelope, row)  # pending since it was reserved
        else:
            channel.cancel_from_thread()
            self._runner.pending.done()
            if not self._durable:  # nothing else holds it; a durable row waits for the start
                self._bury(envelope)
        self._done()

    def _withdraw(self, channel: Channel) -> None:
        channel.cancel_from_thread()
        self._runner.pending.done()
        self._done()

    def _done(self) -> None:
        with self.lock:
            self._in_transit -= 1
            left = self._in_transit
        if left == 0 and self._settled is not None and not self._settled.done():
            self._settled.set_result(None)

    def _bury(self, envelope: Envelope) -> None:
        from runtime.flow_runner import STOPPED_REASON  # here: that module imports this one

        node = self._runner.nodes[envelope.component_id]
        task = self._loop.create_task(node.bury(envelope, STOPPED_REASON, "Stopped"))
        self._late.add(task)
        task.add_done_callback(self._late.discard)
