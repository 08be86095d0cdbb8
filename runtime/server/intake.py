"""Webhook events queued from the front's loop, without waiting for the engine's.

With the engine on a loop of its own (:mod:`runtime.server.bridge`), a webhook event is taken
on the front: the flow reserves room for it (``FlowRunner.from_thread``, see
:mod:`runtime.flow_intake`), the front commits it to the durable broker's table with a writer
of its own on the store's thread, answers 202 and hands it to the flow's loop. Nothing here
waits for the engine's loop, so a component blocking that loop does not hold webhooks. When
the component's channel is full, or the broker is one the front cannot write to, the event is
pushed through the engine's loop instead, where it waits for room as it always did.
Embedded in one loop, events are pushed directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.sqlite import SQLiteBroker, SQLiteChannel
from runtime.envelope import Envelope, new_event_id
from runtime.errors import EngineError
from runtime.flow_runner import WEBHOOK_PORT
from runtime.server.context import CONTEXT

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import Channel
    from runtime.engine import Engine
    from runtime.flow_runner import FlowRunner
    from runtime.server.bridge import Bridge


class FrontIntake:
    """Queues webhook events for ``engine`` from the front's loop; :meth:`close` it before the
    store."""

    def __init__(self, engine: Engine, bridge: Bridge, logger: FilteringBoundLogger) -> None:
        self._engine = engine
        self._bridge = bridge
        broker = engine.broker
        # The broker's own writer belongs to the engine's loop: the front commits with another,
        # on the same store thread, so neither loop waits for the other.
        self._writes: GroupCommit | None = None
        if isinstance(broker, SQLiteBroker):
            self._writes = GroupCommit(broker.store, logger=logger)
        self._direct = self._writes is not None or not broker.durable

    async def push(self, flow_id: str, component_id: str, payload: Any) -> str:
        """Queue an event (committed first with a durable broker); its id.

        Raises :class:`EngineError` when the flow does not take it (not running, no such hook).
        """
        runner = self._engine.runner_of(flow_id)
        if runner is None:
            raise EngineError(f"flow {flow_id!r} is not running")
        channel = runner.from_thread.reserve(component_id) if self._direct else None
        if channel is None:
            return await self._bridge.call(self._engine.push(flow_id, component_id, payload))
        event_id = new_event_id()
        envelope = Envelope(
            id=event_id,
            flow_id=flow_id,
            component_id=component_id,
            port=WEBHOOK_PORT,
            payload=payload,
            correlation_id=event_id,
        )
        await self._commit(runner, channel, envelope)
        return event_id

    async def _commit(self, runner: FlowRunner, channel: Channel, envelope: Envelope) -> None:
        handover = runner.from_thread
        if self._writes is None:
            handover.hand_over(channel, envelope, None)
            return
        try:
            assert isinstance(channel, SQLiteChannel)
            work = channel.row_from_thread(envelope)
        except BaseException:
            handover.withdraw(channel)
            raise
        # Handed over (or withdrawn) by the commit's own callbacks: exactly once, even if this
        # request is cancelled while the commit runs.
        await self._writes.submit(
            work,
            on_commit=lambda row: handover.hand_over(channel, envelope, row),
            on_fail=lambda _: handover.withdraw(channel),
        )

    async def close(self) -> None:
        """Wait for the commits under way."""
        if self._writes is not None:
            await self._writes.flush()


INTAKE: web.AppKey[FrontIntake] = web.AppKey("flowmixer_intake", FrontIntake)


async def push_event(app: web.Application, flow_id: str, component_id: str, payload: Any) -> str:
    """Queue a webhook event for a running flow: from the front when the app has an intake,
    else directly. Raises :class:`EngineError` when the flow does not take it."""
    intake = app.get(INTAKE)
    if intake is None:
        return await app[CONTEXT].engine.push(flow_id, component_id, payload)
    return await intake.push(flow_id, component_id, payload)
