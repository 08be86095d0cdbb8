"""One component of a running flow: its workers and the per-message path.

The per-message path, top to bottom: take an envelope from the component's channel, map its
payload (``config.transform``), validate it against the in-port schema, call the handler, then
acknowledge it; a failure is retried later or dead-lettered, and every envelope ends in exactly
one of ``ack`` or a dead letter. A :class:`ReauthorizeError` is the exception: the envelope is
parked in :attr:`Node.parked` (no longer pending; ``Channel.park`` keeps it in a durable broker)
and ``on_pause`` is told, so the flow can pause until the account is connected again and then
deliver it anew. ``emit`` (behind ``Context.send``) publishes to the wired in-ports, or hands the
message to the output callback when the component is a sink.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.component import Context, State
from runtime.deadlines import Call, overran
from runtime.effects import EffectLedger
from runtime.envelope import Envelope, new_id
from runtime.errors import (
    EngineError,
    InvalidInputError,
    RetryError,
)
from runtime.lazy_event import LazyEvent
from runtime.redaction import redact_text
from runtime.retry import next_step
from runtime.retry_log import DeferralLog, log_retry
from runtime.stores.base import DeadLetter
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator

    import aiohttp
    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import Channel
    from runtime.circuit import Circuits
    from runtime.deadlines import Deadlines
    from runtime.effect_writes import EffectWrites
    from runtime.envelope import Trail
    from runtime.http import HttpSessions
    from runtime.plan import NodePlan
    from runtime.quota import Quotas
    from runtime.retry import RetryPolicy
    from runtime.stores.base import Store
    from runtime.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class Output:
    """A message that left the flow: sent by a component that has no wires leaving it."""

    flow_id: str
    component_id: str
    port: str
    correlation_id: str
    payload: Any


@dataclass(slots=True)
class ComponentStats:
    """Counters of one component of a running flow.

    ``deferred`` counts handlings (and ticks) that raised a :class:`DeferError` (a rate-limit
    wait): not failures, so they are counted neither as ``failed`` nor as ``retried``.
    ``received`` counts deliveries; ``redelivered`` those of them that came again after a retry
    or a deferral, so ``received - redelivered`` is how many messages arrived. ``unwired``
    counts, by out-port, the messages sent on a port no wire leaves (the flow's output when the
    component is a sink; otherwise they are dropped).
    """

    received: int = 0
    ticks: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    unwired: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "ticks": self.ticks,
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "deferred": self.deferred,
            "dead_lettered": self.dead_lettered,
        }


class Pending:
    """Counts the envelopes of a flow that are not finished yet; ``idle`` is set at zero."""

    __slots__ = ("count", "idle")

    def __init__(self) -> None:
        self.count = 0
        self.idle = LazyEvent()
        self.idle.set()

    def add(self) -> None:
        if self.count == 0:
            self.idle.clear()
        self.count += 1

    def done(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.idle.set()


class Node:
    """A running component: handler instance, channel, workers and counters."""

    # Slots, not an attribute dict: a server may hold tens of thousands of nodes.
    __slots__ = (
        "_calls",
        "_deadlines",
        "_deferrals",
        "_http",
        "_interrupted",
        "_keep_output",
        "_log_parent",
        "_logger",
        "_maps_input",
        "_needs_ack",
        "_on_output",
        "_pending",
        "_retry",
        "_settling",
        "_store",
        "_targets",
        "_transforms",
        "_validators",
        "_workers",
        "auth",
        "channel",
        "circuits",
        "component_id",
        "effects",
        "flow_id",
        "handler",
        "on_pause",
        "park_errors",
        "parked",
        "plan",
        "properties",
        "quotas",
        "state",
        "stats",
        "telemetry",
        "tell_sweeper",
        "timeout",
    )

    def __init__(
        self,
        plan: NodePlan,
        *,
        flow_id: str,
        channel: Channel,
        store: Store,
        retry: RetryPolicy,
        pending: Pending,
        http: HttpSessions,
        logger: FilteringBoundLogger,
        on_output: Callable[[Output], None] | None,
        auth: Any = None,
        telemetry: Telemetry = NO_TELEMETRY,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
        deadlines: Deadlines,
        effect_writes: EffectWrites | None = None,
    ) -> None:
        self.plan = plan
        self.flow_id = flow_id
        self.component_id = plan.id
        self.properties = plan.properties
        self.channel = channel
        self.state = State(store, flow_id, plan.id)
        # No I/O until a handler uses it.
        self.effects = EffectLedger(store, flow_id, plan.id, writes=effect_writes)
        self.auth = auth
        self.telemetry = telemetry
        self.quotas = quotas
        self.circuits = circuits
        self._log_parent = logger  # bound to this node on first use: most nodes never log
        self._logger: FilteringBoundLogger | None = None
        self.stats = ComponentStats()
        self._deferrals = DeferralLog()
        self.handler = plan.handler()
        self._store = store
        self._retry = retry
        self._pending = pending
        self._http = http
        self._on_output = on_output if plan.is_sink else None
        self._transforms = plan.transforms
        self._validators = plan.validators
        self._keep_output = plan.keep_output
        self._needs_ack = channel.needs_ack
        self._maps_input = bool(plan.transforms or plan.validators)
        self._targets: dict[str, tuple[tuple[Channel, str, str], ...]] = {}
        self._interrupted: list[Envelope] = []
        self.parked: list[Envelope] = []
        """Envelopes whose handler needs an account re-authorized; kept for the resume."""
        self.park_errors: dict[str, str] = {}  # envelope id -> why it was parked
        self.on_pause: Callable[[Node, str], None] | None = None
        self.timeout = plan.timeout
        self._deadlines = deadlines
        self.tell_sweeper = False  # whether a call taken must be told to the sweeper (see _work)
        self._workers: list[asyncio.Task[None]] = []
        self._calls: list[Call] = []
        self._settling: set[asyncio.Task[None]] = set()

    @property
    def logger(self) -> FilteringBoundLogger:
        """The flow's logger, bound to the flow and this component."""
        logger = self._logger
        if logger is None:
            logger = self._logger = self._log_parent.bind(
                flow_id=self.flow_id, component_id=self.component_id
            )
        return logger

    def connect(self, channels: dict[str, Channel]) -> None:
        """Resolve each out-port's routes to the target channels (once, before starting)."""
        self._targets = {
            port: tuple((channels[r.component_id], r.component_id, r.port) for r in routes)
            for port, routes in self.plan.routes.items()
        }

    def http(self) -> aiohttp.ClientSession:
        return self._http.session()

    def wired(self, port: str) -> bool:
        return bool(self.plan.routes.get(port))

    # -- workers -------------------------------------------------------------------------

    def start_workers(self) -> None:
        self.tell_sweeper = True
        self._workers = [self._spawn() for _ in range(self.plan.concurrency)]

    def _spawn(self) -> asyncio.Task[None]:
        call = Call()
        self._calls.append(call)
        name = f"flowmixer:{self.flow_id}:{self.component_id}:{len(self._calls) - 1}"
        call.task = asyncio.create_task(self._work(call), name=name)
        return call.task

    def in_hand(self) -> int:
        """How many messages this node's handlers are working on now, and failures settling."""
        return sum(call.envelope is not None for call in self._calls) + len(self._settling)

    def workers(self) -> list[asyncio.Task[None]]:
        """The tasks of the running workers."""
        return self._workers

    async def stop_workers(self) -> list[Envelope]:
        """Cancel the workers; return the envelopes they were handling when cancelled."""
        self._deadlines.forget(self)  # a call interrupted by the stop does not time out
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, *self._settling, return_exceptions=True)
        self._workers = []
        self._calls = []
        interrupted, self._interrupted = self._interrupted, []
        return interrupted

    async def _work(self, call: Call) -> None:
        # The per-message path, kept in one frame: it runs for every message of every flow.
        # ``call.envelope`` tells the deadline sweeper (runtime.deadlines) which message the
        # handler is working on: two attribute writes per message, cheaper than a clock read
        # (the sweeper times what it sees) and much cheaper than a timer per call. The sweeper
        # looks only at nodes that told it they took a message since it last found them idle.
        channel = self.channel
        get, get_nowait, ack = channel.get, channel.get_nowait, channel.ack
        needs_ack, maps_input = self._needs_ack, self._maps_input
        receive = self.handler.receive
        stats, pending, deadlines = self.stats, self._pending, self._deadlines
        envelope: Envelope | None = None
        try:
            while True:
                envelope = None
                envelope = get_nowait() or await get()
                stats.received += 1
                if envelope.first_failed_at is not None:  # set by a retry or a deferral
                    stats.redelivered += 1
                call.envelope = envelope
                if self.tell_sweeper:
                    deadlines.watch(self)
                try:
                    payload = self._map(envelope) if maps_input else envelope.payload
                    await receive(Context(self, envelope, payload))
                except Exception as exc:
                    call.envelope = None
                    if call.expired:
                        if not await overran(self, call, envelope, exc):
                            return
                        continue
                    await self._settle_failure(envelope, exc)
                    continue
                except asyncio.CancelledError as exc:
                    call.envelope = None
                    if not call.expired:
                        raise  # the flow stops
                    if not await overran(self, call, envelope, exc):
                        return
                    continue
                call.envelope = None
                if call.expired:  # returned although cancelled: it swallowed the cancellation
                    if not await overran(self, call, envelope, None):
                        return
                    continue
                if needs_ack:
                    await ack(envelope)
                pending.count -= 1  # Pending.done, inlined on the hot path
                if pending.count == 0:
                    pending.idle.set()
        except asyncio.CancelledError:
            if envelope is not None and not call.abandoned:
                self._interrupted.append(envelope)
            raise

    def _map(self, envelope: Envelope) -> Any:
        """Apply the in-port's transform, then check the result against the port's schema."""
        port = envelope.port
        payload = envelope.payload
        transform = self._transforms.get(port)
        if transform is not None:
            payload = transform(envelope.trail)
        validator = self._validators.get(port)
        if validator is not None:
            problem = validator(payload)
            if problem is not None:
                raise InvalidInputError(
                    f"input on in-port {port!r} does not match its schema: {problem}"
                )
        return payload

    async def _settle_failure(self, envelope: Envelope, exc: Exception) -> None:
        try:
            await self._failed(envelope, exc)
        except Exception:  # the store failed: keep the message and try again later
            self.logger.exception("could not settle a failed message; retrying later")
            await self.channel.retry_later(envelope, self._retry.max_delay)

    async def _failed(self, envelope: Envelope, exc: Exception) -> None:
        # An outage (the service's circuit is open) is a wait too, not the message's failure.
        step = next_step(exc)
        deferred = step == "wait"
        if deferred:
            self.stats.deferred += 1
        else:
            self.stats.failed += 1
        if step == "re-authorize":
            await self._park(envelope, str(exc))
            return
        if step == "dead-letter":
            await self._dead_letter(envelope, str(exc), type(exc).__name__)
            return
        reason = str(exc) if isinstance(exc, RetryError) else f"{type(exc).__name__}: {exc}"
        now = time.time()
        if envelope.first_failed_at is None:  # reset by a resume or a manual retry
            envelope.first_failed_at = now
        decision = self._retry.decide(
            envelope.attempt,
            now - envelope.first_failed_at,
            requested=exc.delay if isinstance(exc, RetryError) else None,
            deferred=deferred,
        )
        delay = decision.delay
        if delay is None:
            if decision.why is not None:
                reason = f"{reason} (given up: {decision.why})"
            await self._dead_letter(envelope, reason, type(exc).__name__)
            return
        if deferred:
            self._deferrals.deferred(self.logger, envelope, delay, reason, now)
        else:
            log_retry(self.logger, envelope, delay, reason)
            self.stats.retried += 1
            envelope.attempt += 1
        await self.channel.retry_later(envelope, delay)

    async def _park(self, envelope: Envelope, error: str) -> None:
        # Not pending any more, so ``wait_idle`` returns while the flow waits for a person.
        # A durable channel keeps it (parked) across a restart; others just acknowledge it.
        await self.channel.park(envelope, error)
        self.parked.append(envelope)
        self.park_errors[envelope.id] = error
        self._pending.done()
        if self.on_pause is not None:
            self.on_pause(self, error)

    async def _dead_letter(self, envelope: Envelope, error: str, error_type: str) -> None:
        letter = self._letter(envelope, error, error_type)
        # The letter and the ack in one transaction when the channel's rows are in the store.
        await self.channel.dead_letter(envelope, letter, self._store)
        self._buried(letter)
        self._pending.done()

    async def bury(self, envelope: Envelope, error: str, error_type: str) -> None:
        """Store ``envelope`` as a dead letter with its reason (does not ack it)."""
        letter = self._letter(envelope, error, error_type)
        await self._store.add_dead_letter(letter)
        self._buried(letter)

    def _letter(self, envelope: Envelope, error: str, error_type: str) -> DeadLetter:
        return DeadLetter(
            id=new_id(),
            envelope=envelope,
            error=redact_text(error),  # exception text may quote a URL or header with a secret
            error_type=error_type,
            attempts=envelope.attempt,
            failed_at=time.time(),
        )

    def _buried(self, letter: DeadLetter) -> None:
        envelope, error, error_type = letter.envelope, letter.error, letter.error_type
        self.stats.dead_lettered += 1
        self.telemetry.dead_letter(self.flow_id, self.component_id, error_type)
        self.logger.warning(
            "message dead-lettered",
            dead_letter_id=letter.id,
            envelope_id=envelope.id,
            correlation_id=envelope.correlation_id,
            attempts=envelope.attempt,
            error_type=error_type,
            error=error,
        )

    # -- sending -------------------------------------------------------------------------

    def emit(
        self,
        context: Context,
        payload: Any,
        port: str,
        hold: list[tuple[Channel, Envelope]] | None = None,
    ) -> Awaitable[None]:
        """Publish ``payload`` from out-port ``port`` (behind :meth:`Context.send`).

        With ``hold`` the envelopes are appended there instead of published (a tick's unit of
        work publishes them when it commits, see :mod:`runtime.tick_unit`).

        Publishing happens here, synchronously, for every target channel with room; only
        when one is full does the returned awaitable wait for it (backpressure). Skipping a
        coroutine per hop in the common case is worth a third of the engine's throughput.
        """
        targets = self._targets.get(port)
        if targets is None:
            ports = ", ".join(self._targets) or "none"
            raise EngineError(
                f"component {self.component_id!r} has no out-port {port!r}; its out-ports: {ports}"
            )
        incoming = context.envelope
        if incoming is not None:
            correlation_id = incoming.correlation_id
            trail: Trail | None = incoming.trail
        else:
            correlation_id = context.begin_event()
            trail = None
        if self._keep_output:
            trail = dict(trail or {})
            trail[self.component_id] = {**trail.get(self.component_id, {}), port: payload}
        self.stats.sent += 1
        if not targets:
            unwired = self.stats.unwired
            unwired[port] = unwired.get(port, 0) + 1
            if self._on_output is not None:
                self._on_output(
                    Output(self.flow_id, self.component_id, port, correlation_id, payload)
                )
            return _DONE
        pending = self._pending
        flow_id = self.flow_id
        waiting: list[tuple[Channel, Envelope]] | None = None
        for channel, component_id, in_port in targets:
            if pending.count == 0:  # Pending.add, inlined on the hot path
                pending.idle.clear()
            pending.count += 1
            envelope = Envelope(flow_id, component_id, in_port, payload, correlation_id, trail)
            if hold is not None:
                hold.append((channel, envelope))
            elif not channel.offer(envelope):
                if waiting is None:
                    waiting = []
                waiting.append((channel, envelope))
        return _DONE if waiting is None else _put_all(waiting, pending)


async def _put_all(waiting: list[tuple[Channel, Envelope]], pending: Pending) -> None:
    for index, (channel, envelope) in enumerate(waiting):
        try:
            await channel.put(envelope)
        except BaseException:
            for _ in waiting[index:]:  # never published: not pending (wait_idle must end)
                pending.done()
            raise


class _Done:
    """An awaitable that is already complete: what ``emit`` returns when nothing must wait."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]


_DONE = _Done()
