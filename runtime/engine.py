"""The engine: runs many flows at once, each started and stopped on its own.

::

    async with Engine(store) as engine:
        await engine.start_flow(plan)
        event_id = await engine.push(plan.id, "hook", {"order": 42})
        await engine.wait_idle(plan.id)
        await engine.stop_flow(plan.id)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal, cast

import structlog

from runtime.brokers.memory import MemoryBroker
from runtime.brokers.redelivery import redelivering
from runtime.circuit import Circuits
from runtime.deadlines import Deadlines
from runtime.errors import EngineError
from runtime.flow_runner import FlowRunner
from runtime.http import HttpSessions
from runtime.leases import TriggerLeases, process_owner
from runtime.loop_watch import DEFAULT_THRESHOLD, LoopWatch
from runtime.node import ComponentStats, Output
from runtime.quota import Quotas
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import Broker
    from runtime.credentials import CredentialsResolver
    from runtime.envelope import Envelope
    from runtime.plan import FlowPlan
    from runtime.stores.base import IdempotencyKey, Store
    from runtime.stores.leases import LeaseStore
    from runtime.telemetry import Telemetry

__all__ = ["QUEUE_SIZE", "ComponentStats", "Engine", "Output"]

QUEUE_SIZE = 1024
"""The default bound of each component's channel (see :class:`Engine`)."""


class Engine:
    """Runs flows on a broker, keeping state and dead letters in a store.

    ``on_output`` is called with every message that leaves a flow (sent by a component with no
    wires leaving it). ``queue_size`` bounds each component's input channel, counting every
    message the channel holds (queued, delayed for a retry or a rate limit, parked): a
    component that sends to a full one waits (backpressure), a push may wait a bounded time.
    ``credentials`` gives each component that calls a service its ``context.auth``; a flow
    whose components have none does not start.
    ``telemetry`` receives the components' counts of API calls and rate-limit waits.
    ``leases`` make each polling trigger tick in one process at a time among those sharing the
    store (:mod:`runtime.leases`); by default a store shared across machines (PostgreSQL,
    ``ticks_by_lease``) gets them under a new owner id (:attr:`owner`), and another ticks
    without any.
    ``quotas`` are the rate limits shared by all flows (``context.quotas``); by default the
    service manifests' rules with environment overrides (:class:`~runtime.quota.Quotas`).
    ``circuits`` are the circuit breakers of the services called, also shared by all flows
    (``context.circuits``, :mod:`runtime.circuit`).
    ``stall_threshold``: once a flow starts, a stall of the event loop longer than this many
    seconds is logged with the component that caused it (:mod:`runtime.loop_watch`); ``None``
    turns that off.
    ``workers`` False makes every flow publish only (the API process of a scale-out: events
    and retried dead letters go into the broker, other processes run the components).
    ``on_pause`` is told ``(flow_id, reason)`` when a flow pauses for a refused account.
    The engine owns the broker and the HTTP session it creates, not the store it is given.
    """

    def __init__(
        self,
        store: Store,
        *,
        broker: Broker | None = None,
        http: HttpSessions | None = None,
        queue_size: int = QUEUE_SIZE,
        on_output: Callable[[Output], None] | None = None,
        credentials: CredentialsResolver | None = None,
        logger: FilteringBoundLogger | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
        stall_threshold: float | None = DEFAULT_THRESHOLD,
        leases: TriggerLeases | None = None,
        workers: bool = True,
        on_pause: Callable[[str, str], None] | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.store = store
        self.broker = broker or MemoryBroker()
        self._owns_broker = broker is None
        self._http = http or HttpSessions()
        self._owns_http = http is None
        self._queue_size = queue_size
        self._on_output = on_output
        self._credentials = credentials
        self.telemetry = telemetry
        self.quotas = quotas if quotas is not None else Quotas()
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.engine")
        self.circuits = circuits if circuits is not None else Circuits(logger=self._logger)
        self._flows: dict[str, FlowRunner] = {}
        if leases is None and getattr(store, "ticks_by_lease", False):
            leases = TriggerLeases(cast("LeaseStore", store), process_owner(), logger=self._logger)
        self.leases = leases
        self.owner: str = process_owner() if leases is None else leases.owner
        """This process's owner id (``host:pid:random``): the holder of its triggers' leases."""
        self.workers = workers
        self.on_pause = on_pause
        self.deadlines = Deadlines()  # one sweeper of handler calls for all the flows
        self._loop_watch = (
            None
            if stall_threshold is None
            else LoopWatch(self._logger, threshold=stall_threshold, telemetry=telemetry)
        )

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- flows ---------------------------------------------------------------------------

    async def start_flow(self, plan: FlowPlan) -> None:
        """Start a validated flow; raises :class:`EngineError` if it runs already or fails."""
        if plan.id in self._flows:
            raise EngineError(f"flow {plan.id!r} is already running")
        if self._loop_watch is not None:
            self._loop_watch.start()  # once; on the loop the flows run on
        runner = FlowRunner(
            plan,
            broker=self.broker,
            store=self.store,
            http=self._http,
            logger=self._logger,
            queue_size=self._queue_size,
            on_output=self._on_output,
            credentials=self._credentials,
            telemetry=self.telemetry,
            quotas=self.quotas,
            circuits=self.circuits,
            deadlines=self.deadlines,
            leases=self.leases,
            publish_only=not self.workers,
            on_pause=self._told_pause,
        )
        self._flows[plan.id] = runner
        try:
            await runner.start()
        except BaseException:
            del self._flows[plan.id]
            self.broker.release(plan.id)
            raise
        self._logger.info("flow started", flow_id=plan.id, components=len(plan.nodes))

    async def stop_flow(self, flow_id: str, *, timeout: float = 30.0) -> None:
        """Stop a flow gracefully: see :mod:`runtime.flow_runner` for what happens to its work."""
        runner = self._runner(flow_id)
        await runner.stop(timeout)
        if self._flows.get(flow_id) is runner:  # a start that failed meanwhile removed it
            del self._flows[flow_id]
        self._logger.info("flow stopped", flow_id=flow_id)

    def _told_pause(self, flow_id: str, reason: str) -> None:
        if self.on_pause is not None:
            self.on_pause(flow_id, reason)

    def flows(self) -> list[str]:
        """Ids of the running flows."""
        return sorted(self._flows)

    def runners(self) -> list[FlowRunner]:
        """The running flows, in no particular order: one copy of a dict's values, so another
        thread may call it (the metrics are built on a worker thread)."""
        return list(self._flows.values())

    def is_running(self, flow_id: str) -> bool:
        return flow_id in self._flows

    def runner_of(self, flow_id: str) -> FlowRunner | None:
        """The running flow ``flow_id``, or ``None``: one plain read, so another thread may
        call it (the server's front takes webhook events through its ``from_thread``)."""
        return self._flows.get(flow_id)

    def status(
        self, flow_id: str
    ) -> Literal["starting", "running", "paused", "stopping", "stopped"]:
        runner = self._flows.get(flow_id)
        return "stopped" if runner is None else runner.status  # type: ignore[return-value]

    def pause_reason(self, flow_id: str) -> str | None:
        """Why a flow is paused (an account needs re-authorizing), or None if it is not."""
        runner = self._flows.get(flow_id)
        return None if runner is None else runner.pause_reason

    def parked(self, flow_id: str) -> list[Envelope]:
        """Messages of a paused flow kept for :meth:`resume_flow` (not counted by wait_idle)."""
        return self._runner(flow_id).parked()

    async def resume_flow(self, flow_id: str) -> int:
        """Resume a paused flow: deliver its parked messages again, restart polling.

        Returns how many messages were delivered again; raises :class:`EngineError` if the flow
        is not paused. A message that still cannot get its account pauses the flow again.
        """
        return await self._runner(flow_id).resume()

    async def resume_paused(self, service: str) -> list[str]:
        """Resume every paused flow with a component that calls ``service``; their ids."""
        resumed: list[str] = []
        for flow_id, runner in list(self._flows.items()):
            uses = any(
                node.manifest.auth is not None and node.manifest.auth.service == service
                for node in runner.plan.nodes.values()
            )
            if uses and runner.status == "paused":
                await runner.resume()
                resumed.append(flow_id)
        return resumed

    def stats(self, flow_id: str) -> dict[str, ComponentStats]:
        """Counters of each component of a running flow."""
        return {cid: node.stats for cid, node in self._runner(flow_id).nodes.items()}

    def depths(self, flow_id: str) -> dict[str, int]:
        """Messages waiting for each component of a running flow (all processes' together on
        a broker they share)."""
        return {
            cid: node.channel.reported_depth() for cid, node in self._runner(flow_id).nodes.items()
        }

    # -- events --------------------------------------------------------------------------

    async def push(
        self,
        flow_id: str,
        component_id: str,
        payload: Any,
        *,
        wait: float | None = None,
        key: IdempotencyKey | None = None,
    ) -> str:
        """Push an event into a webhook trigger; returns the event id (its correlation id).

        Returns once the event is queued: with a durable broker, once it is committed. While
        the trigger's channel is full (see ``queue_size``) it waits for room, at most ``wait``
        seconds when given, then raises :class:`~runtime.errors.IntakeFullError` having queued
        nothing. With ``key``, the key is recorded for the event in the store (in the same
        transaction, with the durable broker on the engine's store); one recorded within its
        window raises :class:`~runtime.errors.DuplicateEventError` naming the first event.
        """
        return await self._runner(flow_id).push(component_id, payload, wait=wait, key=key)

    async def wait_idle(self, flow_id: str | None = None) -> None:
        """Wait until nothing is queued, delayed for retry or in flight (one flow, or all).

        Messages parked by a paused flow do not count (they wait for a person, see
        :meth:`parked`), so this returns while a flow is paused.
        """
        while True:
            runners = [self._runner(flow_id)] if flow_id else list(self._flows.values())
            busy = [r for r in runners if not r.pending.idle.is_set()]
            if not busy:
                return
            await asyncio.gather(*(r.pending.idle.wait() for r in busy))

    async def retry_dead_letter(self, letter_id: str) -> Literal["requeued", "scheduled"]:
        """Deliver a dead letter again: now if its flow runs here, else at the flow's next start."""
        letter = await self.store.get_dead_letter(letter_id)
        if letter is None:
            raise EngineError(f"there is no dead letter {letter_id!r}")
        runner = self._flows.get(letter.flow_id)
        node = runner.nodes.get(letter.component_id) if runner else None
        if runner is None or node is None or runner.status not in ("running", "paused"):
            await self.store.request_retry(letter_id)
            return "scheduled"
        envelope = letter.envelope
        envelope.attempt, envelope.first_failed_at = 1, None  # a fresh retry budget
        with redelivering(letter_id):
            await runner.deliver(envelope)
        await self.store.delete_dead_letter(letter_id)
        return "requeued"

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self, *, timeout: float = 30.0) -> None:
        """Stop every flow, then release what the engine owns."""
        for flow_id in list(self._flows):
            await self.stop_flow(flow_id, timeout=timeout)
        self.deadlines.close()
        if self._loop_watch is not None:
            self._loop_watch.stop()
        if self._owns_http:
            await self._http.close()
        if self._owns_broker:
            await self.broker.close()

    def _runner(self, flow_id: str) -> FlowRunner:
        runner = self._flows.get(flow_id)
        if runner is None:
            running = ", ".join(sorted(self._flows)) or "none"
            raise EngineError(f"flow {flow_id!r} is not running (running: {running})")
        return runner
