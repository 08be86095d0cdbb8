"""Runs one flow: starts its components in a safe order, drives its triggers, stops it cleanly.

Start order: ``start`` of every non-trigger component, then the workers, then the dead letters
that were marked for retry, then ``start`` of the triggers, then the polling
(:mod:`runtime.ticker`); so no message reaches a component before it has started. Stop order
is the reverse: triggers stop producing (a running tick is allowed to finish), channels stop
making publishers wait, then the flow waits up to ``timeout`` seconds for the work worth
waiting for (:meth:`FlowRunner._settled`: with a durable broker only the messages in handlers,
as it keeps the rest; otherwise also ready ones and retries due before the deadline), then
workers are cancelled. With a non-durable broker, whatever is still held then goes to the dead
letters (reason "flow stopped") rather than being lost; a durable broker keeps it.

Pausing: when a handler or a tick raises :class:`~runtime.errors.ReauthorizeError` (an account's
grant is gone), the flow becomes ``"paused"`` with a reason, a handler's message is parked in
its node (not dead-lettered, not pending: ``wait_idle`` does not wait for a person), and polling
stops.
Webhook events are still accepted and queued; those that need the account are parked too.
:meth:`FlowRunner.resume` delivers the parked messages again and restarts polling. With the
in-memory broker, parked messages still held when the flow stops go to the dead letters
(``PARKED_REASON``); a durable broker keeps them parked, and the flow starts paused again.

Durable brokers: at start, what the broker kept (queued, delayed, taken but never acknowledged,
parked) is taken up again before the workers start. When the broker is ``atomic_with`` the
store, each tick runs as a :class:`~runtime.tick_unit.TickUnit`: its state writes and messages
commit together. With ``leases`` (a database shared by several processes) each polling trigger
ticks only in the process holding its lease, and its ticks commit fenced by it
(:mod:`runtime.ticker`); a stop gives the leases up once its ticks are done.

Publishing only (``publish_only``, the flows of an API process of a scale-out, which runs no
component): the flow takes webhook events and retried dead letters into its channels and
nothing else; no component starts, no worker reads, no trigger polls, and a stop waits for
nothing but the events handed over. Pausing by a refused account is told to ``on_pause`` (with
the flow's id and the reason) so that the other processes sharing the flow pause it too.

Events from another thread (the server's front, while this flow's loop may be busy) come in
through :attr:`FlowRunner.from_thread` (:mod:`runtime.flow_intake`); a stop waits for those
handed over to arrive before it halts the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runtime.brokers.redelivery import redelivering
from runtime.component import Context
from runtime.deadlines import Deadlines
from runtime.envelope import Envelope, new_event_id
from runtime.errors import (
    EngineError,
    IntakeFullError,
)
from runtime.flow_credentials import resolve_credentials
from runtime.flow_intake import ThreadHandover
from runtime.lazy_event import LazyEvent
from runtime.node import Node, Pending
from runtime.redaction import redact_text
from runtime.stores.base import DeadLetter
from runtime.telemetry import NO_TELEMETRY
from runtime.ticker import Ticker
from runtime.ticks import run_tick

if TYPE_CHECKING:
    from collections.abc import Callable

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import Broker
    from runtime.circuit import Circuits
    from runtime.credentials import CredentialsResolver
    from runtime.http import HttpSessions
    from runtime.leases import TriggerLeases
    from runtime.node import Output
    from runtime.plan import FlowPlan
    from runtime.quota import Quotas
    from runtime.stores.base import IdempotencyKey, Store
    from runtime.stores.leases import Lease
    from runtime.telemetry import Telemetry

WEBHOOK_PORT = "webhook"
STOPPED_REASON = "the flow stopped before this message was handled; retry it to deliver it again"
STRAY_REASON = (
    "cannot deliver: the flow has no component {component!r} any more (it was changed while this"
    " message waited)"
)
SETTLE_CHECK = 0.05  # seconds between looks at what a stopping flow still has in hand
PARKED_REASON = (
    "the flow stopped while this message waited for its account to be re-authorized; retry it"
    " once the account is connected again. It failed with: {error}"
)


class FlowRunner:
    """One running flow."""

    def __init__(
        self,
        plan: FlowPlan,
        *,
        broker: Broker,
        store: Store,
        http: HttpSessions,
        logger: FilteringBoundLogger,
        queue_size: int,
        on_output: Callable[[Output], None] | None,
        credentials: CredentialsResolver | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
        deadlines: Deadlines | None = None,
        leases: TriggerLeases | None = None,
        publish_only: bool = False,
        on_pause: Callable[[str, str], None] | None = None,
    ) -> None:
        self.plan = plan
        self.publish_only = publish_only
        self._on_pause = on_pause
        auth = resolve_credentials(plan, credentials)
        self.status = "starting"
        self.pause_reason: str | None = None
        self.pending = Pending()
        self._resumed = LazyEvent()  # cleared while paused: the polling loops wait on it
        self._resumed.set()
        self._broker = broker
        self._store = store
        self._quotas = quotas
        self._log_parent = logger  # bound on first use: most flows never log after their start
        self._bound_logger: FilteringBoundLogger | None = None
        self._leases = leases
        self._ticker = Ticker(plan.id, self._run_tick, self._resumed, leases)
        self._start_done: LazyEvent | None = None  # set once start() has returned or failed
        self._atomic_ticks = broker.atomic_with(store)
        self.from_thread = ThreadHandover(self, durable=broker.durable)
        deadlines = deadlines if deadlines is not None else Deadlines()  # the engine's, shared
        channels = {cid: broker.channel(plan.id, cid, maxsize=queue_size) for cid in plan.nodes}
        effect_writes = broker.effect_writes(store)  # queued with the broker's commits if it can
        self.nodes = {
            cid: Node(
                node_plan,
                flow_id=plan.id,
                channel=channels[cid],
                store=store,
                retry=plan.retry,
                pending=self.pending,
                http=http,
                logger=logger,
                on_output=on_output,
                auth=auth.get(cid),
                telemetry=telemetry,
                quotas=quotas,
                circuits=circuits,
                deadlines=deadlines,
                effect_writes=effect_writes,
            )
            for cid, node_plan in plan.nodes.items()
        }
        for node in self.nodes.values():
            node.connect(dict(channels))
            node.on_pause = self._refused

    @property
    def _logger(self) -> FilteringBoundLogger:
        if self._bound_logger is None:
            self._bound_logger = self._log_parent.bind(flow_id=self.plan.id)
        return self._bound_logger

    @property
    def _triggers(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.plan.is_trigger]

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the flow (see the module docs for the order); :meth:`stop` waits for it."""
        self._start_done = LazyEvent()
        try:
            await self._start()
        finally:
            self._start_done.set()

    async def _start(self) -> None:
        if self.publish_only:
            await self._requeue_retries()
            self.status = "running"
            return
        started: list[Node] = []
        try:
            for node in self.nodes.values():
                if not node.plan.is_trigger:
                    await self._start_component(node)
                    started.append(node)
            if self._broker.durable:
                await self._restore()
            for node in self.nodes.values():
                if not node.plan.is_trigger:
                    node.start_workers()
            # A trigger handles nothing before its start (a webhook compiles its schema there),
            # and what its start sends finds the other components' workers running.
            for node in self._triggers:
                await self._start_component(node)
                started.append(node)
                # Only a webhook takes events: another trigger gets a worker when a message
                # comes for it anyway (kept by a durable broker, or see deliver).
                if node.plan.webhook or node.channel.depth():
                    node.start_workers()
            await self._requeue_retries()
        except BaseException:
            await self._abort(started)
            raise
        self._ticker.start([n for n in self._triggers if n.plan.tick_interval is not None])
        if self.status == "starting":  # not paused meanwhile by a retried dead letter
            self.status = "running"

    async def _start_component(self, node: Node) -> None:
        try:
            await node.handler.start(Context(node))
        except Exception as exc:
            raise EngineError(
                f"flow {self.plan.id!r}: component {node.component_id!r} failed to start: {exc}"
            ) from exc

    async def _abort(self, started: list[Node]) -> None:
        self.from_thread.halt()
        for node in self.nodes.values():
            await node.stop_workers()
        for node in reversed(started):
            await self._stop_component(node)
        self.status = "stopped"

    async def _restore(self) -> None:
        """Take up what the durable broker kept: queued messages are pending again, parked ones
        are parked again (the flow is paused), those of removed components are dead-lettered."""
        await self._broker.take_strays(self.plan.id, list(self.nodes), self._bury_stray)
        first: tuple[Node, str] | None = None
        for node in self.nodes.values():
            parked = await node.channel.restore()
            for _ in range(node.channel.depth()):
                self.pending.add()
            for envelope, error in parked:
                node.parked.append(envelope)
                node.park_errors[envelope.id] = error
            if parked and first is None:
                first = (node, parked[0][1])
        # Paused only once every channel is restored: "paused" accepts pushes and retries,
        # and a message accepted into a channel not yet restored would be taken up twice.
        if first is not None:
            self.pause(*first)

    async def _bury_stray(self, envelope: Envelope) -> None:
        # The id follows from the message's: written again after a failed start, it replaces.
        letter_id = hashlib.blake2b(f"stray:{envelope.id}".encode(), digest_size=16).hexdigest()
        error = STRAY_REASON.format(component=envelope.component_id)
        letter = DeadLetter(
            letter_id, envelope, error, "Undeliverable", envelope.attempt, time.time()
        )
        await self._store.add_dead_letter(letter)

    async def _requeue_retries(self) -> None:
        # Delivered first, deleted after: a crash in between delivers one twice (the effects
        # ledger absorbs that), never none.
        for letter in await self._store.requested_retries(self.plan.id):
            envelope = letter.envelope
            node = self.nodes.get(envelope.component_id)
            if node is None or (node.plan.is_trigger and not node.plan.webhook):
                await self._store.delete_dead_letter(letter.id)
                await self._keep_unretryable(letter)
                continue
            envelope.attempt, envelope.first_failed_at = 1, None
            with redelivering(letter.id):
                await self.deliver(envelope)
            await self._store.delete_dead_letter(letter.id)

    async def _keep_unretryable(self, letter: DeadLetter) -> None:
        error = (
            f"cannot retry: the flow has no component {letter.component_id!r} that takes"
            f" messages any more (was: {letter.error})"
        )
        await self._store.add_dead_letter(replace(letter, retry_requested=False, error=error))

    # -- events in -----------------------------------------------------------------------

    async def deliver(self, envelope: Envelope) -> None:
        """Queue ``envelope`` for its component (pushed events, retried dead letters)."""
        self.pending.add()
        node = self.nodes[envelope.component_id]
        if (
            not node.workers() and not self.publish_only
        ):  # a polling trigger has none until a message comes for it
            node.start_workers()
        channel = node.channel
        if not channel.offer(envelope):
            try:
                await channel.put(envelope)  # durable: returns once it is committed
            except BaseException:
                self.pending.done()
                raise

    async def push(
        self,
        component_id: str,
        payload: Any,
        *,
        wait: float | None = None,
        key: IdempotencyKey | None = None,
    ) -> str:
        """Queue an event for webhook trigger ``component_id``; its id. See :meth:`Engine.push`."""
        node = self.nodes.get(component_id)
        if node is None:
            raise EngineError(f"flow {self.plan.id!r} has no component {component_id!r}")
        if not node.plan.webhook:
            raise EngineError(
                f"component {component_id!r} of flow {self.plan.id!r} is not a webhook trigger"
            )
        if self.status not in ("running", "paused"):
            raise EngineError(f"flow {self.plan.id!r} is {self.status}; it accepts no events")
        event_id = new_event_id()
        envelope = Envelope(
            id=event_id,
            flow_id=self.plan.id,
            component_id=component_id,
            port=WEBHOOK_PORT,
            payload=payload,
            correlation_id=event_id,
        )
        self.pending.add()
        try:
            if key is None and node.channel.offer(envelope):
                return event_id
            admitted = await node.channel.admit(envelope, wait, key=key, store=self._store)
        except BaseException:
            self.pending.done()
            raise
        if not admitted:
            self.pending.done()
            raise IntakeFullError(
                f"flow {self.plan.id!r}: component {component_id!r} holds as many messages as"
                f" its bound allows, and none left within {wait:g} s"
            )
        return event_id

    async def _run_tick(self, node: Node, lease: Lease | None) -> float | None:
        broker = self._broker if self._atomic_ticks else None
        if lease is None:
            return await run_tick(node, broker, self._store, self.pending, self._refused)
        assert self._leases is not None
        store = self._leases.store
        return await run_tick(node, broker, self._store, self.pending, self._refused, lease, store)

    # -- pause -------------------------------------------------------------------------

    def pause(self, node: Node, error: str) -> None:
        """Pause the flow because ``node``'s account needs re-authorizing (logged once)."""
        if self.status not in ("starting", "running"):
            return
        self.status = "paused"
        self.pause_reason = redact_text(
            f"component {node.component_id!r} needs its account re-authorized: {error}"
        )
        self._resumed.clear()
        self._logger.warning("flow paused", reason=self.pause_reason)

    def _refused(self, node: Node, error: str) -> None:
        """Pause for ``node``'s refused account, and tell ``on_pause`` (a restored flow
        pauses through :meth:`pause` alone: the pause was told when it happened)."""
        was = self.status
        self.pause(node, error)
        if self._on_pause is not None and was != self.status and self.pause_reason is not None:
            self._on_pause(self.plan.id, self.pause_reason)

    def parked(self) -> list[Envelope]:
        """The messages waiting for the flow to resume (per component, oldest first)."""
        return [envelope for node in self.nodes.values() for envelope in node.parked]

    async def resume(self) -> int:
        """Deliver the parked messages again (first attempt) and restart polling; how many.

        If delivering one fails (the broker cannot write), it and those not yet delivered
        stay parked, the flow is paused again and the error is raised: resuming can be retried.
        """
        if self.status != "paused":
            raise EngineError(f"flow {self.plan.id!r} is {self.status}, not paused")
        reason = self.pause_reason
        self.status = "running"
        self.pause_reason = None
        self._resumed.set()
        self._ticker.resume()
        count = 0
        for node in self.nodes.values():
            parked, node.parked = node.parked, []
            errors, node.park_errors = node.park_errors, {}
            for done, envelope in enumerate(parked):
                envelope.attempt, envelope.first_failed_at = 1, None
                self.pending.add()
                try:
                    await node.channel.unpark(envelope)
                except BaseException:
                    self.pending.done()
                    left = parked[done:]
                    node.parked[:0] = left  # ahead of any parked meanwhile: they are older
                    node.park_errors.update({e.id: errors[e.id] for e in left if e.id in errors})
                    if self.status == "running":
                        self.status, self.pause_reason = "paused", reason
                        self._resumed.clear()
                    raise
                count += 1
        self._logger.info("flow resumed", redelivered=count)
        return count

    # -- stop ----------------------------------------------------------------------------

    async def stop(self, timeout: float) -> None:
        """Stop producing, let work finish for up to ``timeout`` seconds, then stop.

        Called while :meth:`start` runs, it first waits for the start to finish (a failed
        start leaves nothing to stop), so no worker started afterwards outlives it.
        """
        if self._start_done is not None:
            await self._start_done.wait()
        if self.status in ("stopping", "stopped"):
            return
        with self.from_thread.lock:  # no event is reserved from another thread after this
            self.status = "stopping"
        if self.publish_only:
            await self.from_thread.settle(timeout)
            self.from_thread.halt()
            self._broker.release(self.plan.id)
            self.status = "stopped"
            return
        self._resumed.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ticks = self._ticker.stop()  # a running tick may finish
        if ticks:
            _, late = await asyncio.wait(ticks, timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*ticks, return_exceptions=True)
        await self._ticker.release()
        for node in self.nodes.values():
            node.channel.stopping()
        await self.from_thread.settle(max(0.0, deadline - loop.time()))
        while not self._settled(deadline) and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                wait = min(SETTLE_CHECK, deadline - loop.time())
                await asyncio.wait_for(self.pending.idle.wait(), max(0.0, wait))
        self.from_thread.halt()
        await self._halt_workers()
        for node in self._triggers + [n for n in self.nodes.values() if not n.plan.is_trigger]:
            await self._stop_component(node)
        self._broker.release(self.plan.id)
        self.status = "stopped"

    def _settled(self, deadline: float) -> bool:
        """Whether a stop has nothing left worth waiting for: no handler at work, and (with a
        non-durable broker) no message ready or falling due before ``deadline``. A durable
        broker keeps queued and delayed messages for the next start."""
        if self.pending.idle.is_set():
            return True
        held = sum(node.channel.depth() for node in self.nodes.values())
        in_handlers = self.pending.count - held  # (or being committed)
        if self._broker.durable:
            if getattr(self._broker, "shared", False):
                # Other processes take messages of this flow too: the count of this one's is no
                # measure of what its handlers hold, so ask them.
                in_handlers = sum(node.in_hand() for node in self.nodes.values())
            # A handler waiting for its quota has sent nothing: its message stays a row and is
            # delivered at the next start, so a stop does not wait for the quota to open.
            return in_handlers <= self._waiting_for_quota()
        if in_handlers > 0:
            return False
        return not any(node.channel.due_before(deadline) for node in self.nodes.values())

    def _waiting_for_quota(self) -> int:
        if self._quotas is None:
            return 0
        waiting = self._quotas.waiting
        return sum(task in waiting for node in self.nodes.values() for task in node.workers())

    async def _halt_workers(self) -> None:
        for node in self.nodes.values():
            interrupted = await node.stop_workers()
            parked, node.parked = node.parked, []
            errors, node.park_errors = node.park_errors, {}
            if self._broker.durable:
                continue  # it keeps them all, parked ones too, for the next start
            for envelope in parked:  # acknowledged and not pending: only here now
                error = PARKED_REASON.format(error=errors.get(envelope.id, "?"))
                await node.bury(envelope, error, "ReauthorizeError")
            for envelope in interrupted + node.channel.drain():
                await node.bury(envelope, STOPPED_REASON, "Stopped")
                self.pending.done()

    async def _stop_component(self, node: Node) -> None:
        try:
            await node.handler.stop(Context(node))
        except Exception as exc:
            node.logger.warning("component failed to stop", error=f"{type(exc).__name__}: {exc}")
