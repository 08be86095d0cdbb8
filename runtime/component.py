"""The component API: a handler class and the context it is called with.

A component is a manifest plus a subclass of :class:`Component`. The engine makes one instance
per component of a running flow and calls ``start`` once, ``receive`` for each message (possibly
concurrently, up to the flow's ``concurrency`` for that component), ``tick`` on a polling
trigger's interval (never overlapping) and ``stop`` once on the way down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from runtime.envelope import new_event_id

if TYPE_CHECKING:
    import aiohttp
    from structlog.typing import FilteringBoundLogger

    from runtime.circuit import Circuits
    from runtime.effects import EffectLedger
    from runtime.envelope import Envelope
    from runtime.quota import Quotas
    from runtime.stores.base import StateStore, VersionedState
    from runtime.telemetry import Telemetry


class State:
    """Persistent key/value state of one component in one flow; values are JSON data."""

    __slots__ = ("_component_id", "_flow_id", "_store")

    def __init__(self, store: StateStore, flow_id: str, component_id: str) -> None:
        self._store = store
        self._flow_id = flow_id
        self._component_id = component_id

    async def get(self, key: str, default: Any = None) -> Any:
        """The stored value of ``key``, or ``default`` when there is none."""
        value = await self._store.get_state(self._flow_id, self._component_id, key)
        return default if value is None else value

    async def get_versioned(self, key: str) -> VersionedState:
        """The stored value of ``key`` with its version, for a write fenced by it."""
        return await self._store.get_versioned_state(self._flow_id, self._component_id, key)

    async def set(self, key: str, value: Any, *, expected_version: int | None = None) -> None:
        """Store ``value`` (JSON data) under ``key``; with ``expected_version`` (from
        :meth:`get_versioned`), only while the stored version is still that one, else
        :class:`~runtime.errors.StaleStateError` (another writer saved first)."""
        await self._store.set_state(
            self._flow_id, self._component_id, key, value, expected_version=expected_version
        )

    async def delete(self, key: str) -> None:
        """Forget ``key``; nothing happens when it is absent."""
        await self._store.delete_state(self._flow_id, self._component_id, key)


class NodeServices(Protocol):
    """What the engine provides to the contexts of one component (engine-internal contract)."""

    flow_id: str
    component_id: str
    properties: Mapping[str, Any]
    state: State
    effects: EffectLedger
    auth: Any
    telemetry: Telemetry
    quotas: Quotas | None
    circuits: Circuits | None

    @property
    def logger(self) -> FilteringBoundLogger: ...

    def http(self) -> aiohttp.ClientSession: ...

    def wired(self, port: str) -> bool: ...

    def emit(self, context: Context, payload: Any, port: str) -> Awaitable[None]: ...


class Context:
    """Everything a handler needs for one call.

    ``messages`` maps the in-port the message arrived on to its (mapped, validated) payload;
    ``message`` is that payload when there is exactly one. ``send`` hands a payload to the
    components wired to ``port``; it waits when they are saturated (backpressure). In a
    trigger's ``tick`` or ``start`` every ``send`` begins a new event with its own correlation id.
    """

    __slots__ = ("_event_id", "_log", "_node", "_payload", "envelope")

    #: The envelope being handled, or ``None`` in ``tick``, ``start`` and ``stop`` (read-only).
    envelope: Envelope | None

    def __init__(
        self, node: NodeServices, envelope: Envelope | None = None, payload: Any = None
    ) -> None:
        # Made for every message: only what every message needs is set here.
        self._node = node
        self.envelope = envelope
        self._payload = payload
        self._event_id: str | None = None
        self._log: FilteringBoundLogger | None = None

    @property
    def flow_id(self) -> str:
        return self._node.flow_id

    @property
    def component_id(self) -> str:
        return self._node.component_id

    @property
    def correlation_id(self) -> str | None:
        """The id of the event being handled (in a trigger: of the last one it sent, or None)."""
        envelope = self.envelope
        return envelope.correlation_id if envelope is not None else self._event_id

    @property
    def messages(self) -> dict[str, Any]:
        """The input by in-port: the mapped and validated payload of the message."""
        env = self.envelope
        return {} if env is None else {env.port: self._payload}

    @property
    def message(self) -> Any:
        """The input payload (``None`` outside ``receive``)."""
        return self._payload

    @property
    def properties(self) -> Mapping[str, Any]:
        """The component's validated properties from the flow file."""
        return self._node.properties

    @property
    def auth(self) -> Any:
        """The injected credentials of the account the flow uses, or ``None``."""
        return self._node.auth

    @property
    def telemetry(self) -> Telemetry:
        """Where calls to services are counted (API calls by status, rate-limit waits)."""
        return self._node.telemetry

    @property
    def quotas(self) -> Quotas | None:
        """The rate limits of the services calls go to, shared by every flow of the engine
        (see :mod:`runtime.quota`); None where nothing limits them (test doubles)."""
        return self._node.quotas

    @property
    def circuits(self) -> Circuits | None:
        """The circuit breakers of the services calls go to, shared by every flow of the
        engine (see :mod:`runtime.circuit`); None where nothing breaks them (test doubles)."""
        return self._node.circuits

    @property
    def state(self) -> State:
        return self._node.state

    @property
    def effects(self) -> EffectLedger:
        """The ledger of effects that must not happen twice (see :mod:`runtime.effects`)."""
        return self._node.effects

    @property
    def http(self) -> aiohttp.ClientSession:
        """The process-wide shared HTTP session."""
        return self._node.http()

    @property
    def log(self) -> FilteringBoundLogger:
        """A logger bound to the flow, component and correlation ids (made on first use)."""
        if self._log is None:
            self._log = self._node.logger.bind(correlation_id=self.correlation_id)
        return self._log

    def wired(self, port: str) -> bool:
        """Whether some component of the flow takes messages from out-port ``port``: a
        component may send an outcome there only when a wire handles it (an HTTP error answer
        goes to ``error`` when wired, else to the dead letters)."""
        return self._node.wired(port)

    def begin_event(self) -> str:
        """Start a new event: the engine calls this on each ``send`` outside ``receive``."""
        self._event_id = new_event_id()
        self._log = None
        return self._event_id

    def send(self, payload: Any, port: str = "out") -> Awaitable[None]:
        """Send ``payload`` (JSON data) on out-port ``port``; await the result.

        Payloads are shared with every component that receives them: treat inputs as
        read-only and send new objects rather than changing what arrived.
        """
        # Returns the engine's awaitable instead of wrapping it: no extra frame per message.
        return self._node.emit(self, payload, port)


class Component:
    """Base class of component handlers. Override ``receive``; the rest is optional."""

    async def start(self, context: Context) -> None:
        """Called once when the flow starts, before any message."""

    async def stop(self, context: Context) -> None:
        """Called once when the flow stops, after in-flight messages are done."""

    async def receive(self, context: Context) -> None:
        """Handle one message (``context.messages``)."""
        raise NotImplementedError(f"{type(self).__name__} does not receive messages")

    async def tick(self, context: Context) -> None:
        """Polling triggers: look for new items and ``send`` each one."""
        raise NotImplementedError(f"{type(self).__name__} does not poll")
