"""Webhook events queued from the front's loop, without waiting for the engine's.

With the engine on a loop of its own (:mod:`runtime.server.bridge`), a webhook event is taken
on the front. The flow reserves room for it (``FlowRunner.from_thread``, see
:mod:`runtime.flow_intake`); the front commits it to the durable broker's table, with its
idempotency key in the same transaction, with a writer of its own on the store's thread,
answers 202 and hands it to the flow's loop. With the in-memory broker the key is recorded in
the store first. Nothing here waits for the engine's loop, so a component blocking that loop
does not hold webhooks.

When the trigger's channel is full, the request waits on the front for at most the hook wait
(:class:`~runtime.server.intake.HookIntake`): it queues in a line per channel, and the flow's
loop reserves room for the line's head whenever a place frees (``ask_for_room``). A request
still waiting at the end of its wait gets :class:`~runtime.errors.IntakeFullError` (503) with
nothing committed; a reservation that reaches the front after everyone gave up is handed back.
Embedded in one loop, events are pushed directly (``Engine.push``, which waits the same way).
"""

from __future__ import annotations

import asyncio
import collections
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.sqlite import SQLiteBroker, SQLiteChannel
from runtime.envelope import Envelope, new_event_id
from runtime.errors import EngineError, IntakeFullError
from runtime.flow_runner import WEBHOOK_PORT
from runtime.server.bridge import BRIDGE
from runtime.server.context import CONTEXT

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import Broker, Channel
    from runtime.engine import Engine
    from runtime.flow_intake import ThreadHandover
    from runtime.stores.base import IdempotencyKey

_Line = tuple["ThreadHandover", str]  # a flow's hand-over and the webhook trigger


class FrontIntake:
    """Queues webhook events for ``engine`` from the front's loop; :meth:`close` it before the
    store. The engine's broker must be one it :meth:`takes`."""

    @staticmethod
    def takes(broker: Broker) -> bool:
        """Whether events for ``broker`` can be committed from the front: the SQLite broker's
        (on the store's thread) or a non-durable one's. The PostgreSQL broker's pool belongs
        to the engine's loop, so its events are pushed there."""
        return isinstance(broker, SQLiteBroker) or not broker.durable

    def __init__(self, engine: Engine, logger: FilteringBoundLogger) -> None:
        self._engine = engine
        broker = engine.broker
        # The broker's own writer belongs to the engine's loop: the front commits with another,
        # on the same store thread, so neither loop waits for the other.
        self._writes: GroupCommit | None = None
        if isinstance(broker, SQLiteBroker):
            self._writes = GroupCommit(broker.store, logger=logger)
        elif broker.durable:
            raise TypeError(f"the server's front cannot commit events to {type(broker).__name__}")
        self._lines: dict[_Line, collections.deque[asyncio.Future[Channel]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeping: set[asyncio.Task[None]] = set()

    async def push(
        self,
        flow_id: str,
        component_id: str,
        payload: Any,
        *,
        wait: float,
        key: IdempotencyKey | None = None,
    ) -> str:
        """Queue an event (committed first with a durable broker), waiting at most ``wait``
        seconds for room; its id. Raises what ``Engine.push`` raises: :class:`IntakeFullError`,
        :class:`~runtime.errors.DuplicateEventError` (``key`` names another event) or
        :class:`EngineError` (the flow does not take it)."""
        self._loop = asyncio.get_running_loop()
        runner = self._engine.runner_of(flow_id)
        if runner is None:
            raise EngineError(f"flow {flow_id!r} is not running")
        channel = await self._room(runner.from_thread, component_id, wait)
        event_id = new_event_id()
        envelope = Envelope(
            id=event_id,
            flow_id=flow_id,
            component_id=component_id,
            port=WEBHOOK_PORT,
            payload=payload,
            correlation_id=event_id,
        )
        await self._commit(runner.from_thread, channel, envelope, key)
        return event_id

    # -- room ------------------------------------------------------------------------------

    async def _room(self, handover: ThreadHandover, component_id: str, wait: float) -> Channel:
        """A channel with one place reserved for this event, within ``wait`` seconds."""
        line_id = (handover, component_id)
        line = self._lines.get(line_id)
        if not line:  # nobody waits ahead of this one: take room at once if there is some
            channel = handover.reserve(component_id)
            if channel is not None:
                return channel
        if wait <= 0:
            raise _full(handover, component_id, wait)
        assert self._loop is not None
        waiter: asyncio.Future[Channel] = self._loop.create_future()
        self._lines.setdefault(line_id, collections.deque()).append(waiter)
        handover.ask_for_room(component_id, partial(self._delivered_threadsafe, line_id))
        try:
            await asyncio.wait((waiter,), timeout=wait)
        except BaseException:
            self._leave(line_id, waiter)
            raise
        if not waiter.done():
            self._leave(line_id, waiter)
            raise _full(handover, component_id, wait)
        return waiter.result()  # or the EngineError delivered

    def _leave(self, line_id: _Line, waiter: asyncio.Future[Channel]) -> None:
        """``waiter`` gives up: its ask is withdrawn, or the room it was given handed back."""
        handover, component_id = line_id
        line = self._lines.get(line_id)
        if line is not None and waiter in line:
            line.remove(waiter)
            if not line:
                del self._lines[line_id]
        if not waiter.done():
            waiter.cancel()
            handover.unask(component_id)
        elif not waiter.cancelled() and waiter.exception() is None:
            handover.withdraw(waiter.result())

    def _delivered_threadsafe(self, line_id: _Line, outcome: Channel | EngineError) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._delivered, line_id, outcome)

    def _delivered(self, line_id: _Line, outcome: Channel | EngineError) -> None:
        """(The front's loop.) Room reserved for the head of the line, or the refusal of all."""
        line = self._lines.pop(line_id, collections.deque())
        if isinstance(outcome, EngineError):
            for waiter in line:
                if not waiter.done():
                    waiter.set_exception(EngineError(str(outcome)))
            return
        while line:
            waiter = line.popleft()
            if not waiter.done():
                waiter.set_result(outcome)
                break
        else:
            line_id[0].withdraw(outcome)  # everyone gave up meanwhile
        if line:
            self._lines[line_id] = line

    # -- commit and hand-over --------------------------------------------------------------

    async def _commit(
        self,
        handover: ThreadHandover,
        channel: Channel,
        envelope: Envelope,
        key: IdempotencyKey | None,
    ) -> None:
        """Commit the reserved event (and its key), then hand it over; exactly one of hand-over
        or withdrawal happens, even if this request is cancelled meanwhile."""
        if self._writes is None:
            if key is None:
                handover.hand_over(channel, envelope, None)
                return
            task = asyncio.get_running_loop().create_task(
                self._keep_key(handover, channel, envelope, key)
            )
            self._keeping.add(task)
            task.add_done_callback(self._keeping.discard)
            await asyncio.shield(task)
            return
        try:
            assert isinstance(channel, SQLiteChannel)
            work = channel.row_from_thread(envelope, key)
        except BaseException:
            handover.withdraw(channel)
            raise
        await self._writes.submit(
            work,
            on_commit=lambda row: handover.hand_over(channel, envelope, row),
            on_fail=lambda _: handover.withdraw(channel),
        )

    async def _keep_key(
        self, handover: ThreadHandover, channel: Channel, envelope: Envelope, key: IdempotencyKey
    ) -> None:
        """Record ``key`` for the event (the in-memory broker), then hand the event over."""
        try:
            await self._engine.store.add_hook_key(
                envelope.flow_id, envelope.component_id, key, envelope.id
            )
        except BaseException:
            handover.withdraw(channel)
            raise
        handover.hand_over(channel, envelope, None)

    async def close(self) -> None:
        """Wait for the commits under way."""
        if self._keeping:
            await asyncio.gather(*self._keeping, return_exceptions=True)
        if self._writes is not None:
            await self._writes.flush()


def _full(handover: ThreadHandover, component_id: str, wait: float) -> IntakeFullError:
    return IntakeFullError(
        f"flow {handover.flow_id!r}: component {component_id!r} holds as many messages as its"
        f" bound allows, and none left within {wait:g} s"
    )


INTAKE: web.AppKey[FrontIntake] = web.AppKey("flowmixer_intake", FrontIntake)


async def push_event(
    app: web.Application,
    flow_id: str,
    component_id: str,
    payload: Any,
    *,
    wait: float,
    key: IdempotencyKey | None = None,
) -> str:
    """Queue a webhook event for a running flow: from the front when the app has an intake,
    else directly; raises what ``Engine.push`` raises."""
    intake = app.get(INTAKE)
    if intake is None:  # on the engine's loop, whichever runs this request
        engine = app[CONTEXT].engine
        push = engine.push(flow_id, component_id, payload, wait=wait, key=key)
        return await app[BRIDGE].call(push)
    return await intake.push(flow_id, component_id, payload, wait=wait, key=key)
