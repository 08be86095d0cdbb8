"""The server's Prometheus metrics, with a small typed API for the code that counts things.

Metrics (all prefixed ``flowmixer_``):

==========================================  =====================================================
``messages_received_total{flow,component}``  messages a component took in (running flows)
``messages_sent_total{flow,component}``      messages a component sent
``messages_failed_total{flow,component}``    failed handlings and ticks
``messages_retried_total{flow,component}``   handlings scheduled for another attempt
``messages_deferred_total{flow,component}``  handlings (and ticks) deferred by a rate limit
``messages_dead_lettered_total{...}``        messages the component sent to the dead letters
``queue_depth{flow,component}``              messages waiting for the component
``flows_running``                            flows running in this server
``dead_letters{flow,component}``             dead letters kept in the store (read at scrape)
``dead_letters_total{flow,component,...}``   letters stored since the server started, by
                                             ``error_type`` (every flow, running or stopping)
``api_calls_total{service,status}``          calls to services, by HTTP status (or ``error``)
``rate_limit_waits_total{service}``          times a call waited for the service's rate limit
``rate_limit_wait_seconds_total{service}``    seconds calls spent waiting for it
``token_refreshes_total{service,outcome}``   access-token refreshes (``ok``, ``failed``)
``circuit_state{service,account}``           a service's circuit: 0 closed, 1 open, 2 half-open
``circuit_opened_total{service,account}``     times it opened (a failed probe opens it again)
``loop_stalls_total{flow,component}``        times the event loop stalled in that component
==========================================  =====================================================

Message counters come from the engine at scrape time, so they restart at 0 when a flow
restarts (Prometheus' ``rate`` handles such resets). Circuits are read from the engine at
scrape time too; they last as long as the engine (:mod:`runtime.circuit`). The API,
rate-limit and refresh counters are fed by the code that makes calls: :class:`Metrics` is the
engine's and the auth provider's :class:`~runtime.telemetry.Telemetry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from prometheus_client.metrics_core import Metric

    from runtime.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_COUNTED = ("received", "sent", "failed", "retried", "deferred", "dead_lettered")


class _EngineCollector(Collector):
    """Reads the engine's counters and queue depths when Prometheus scrapes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        counters = {
            name: CounterMetricFamily(
                f"flowmixer_messages_{name}",
                f"Messages {name.replace('_', ' ')} per component of a running flow",
                labels=["flow", "component"],
            )
            for name in _COUNTED
        }
        depth = GaugeMetricFamily(
            "flowmixer_queue_depth",
            "Messages waiting for a component",
            labels=["flow", "component"],
        )
        running = self._engine.flows()
        for flow_id in running:
            # Read from the server's front, the flow may stop meanwhile: its runner is kept.
            runner = self._engine.runner_of(flow_id)
            if runner is None:
                continue
            for component_id, node in runner.nodes.items():
                stats = node.stats
                labels = [flow_id, component_id]
                values = stats.as_dict()
                for name, family in counters.items():
                    family.add_metric(labels, values[name])
                depth.add_metric(labels, node.channel.depth())
        yield from counters.values()
        yield depth
        yield from self._circuits()
        yield GaugeMetricFamily(
            "flowmixer_flows_running", "Flows running in this server", value=len(running)
        )

    def _circuits(self) -> Iterator[Metric]:
        labels = ["service", "account"]
        state = GaugeMetricFamily(
            "flowmixer_circuit_state",
            "A service's circuit (per account): 0 closed, 1 open, 2 half-open",
            labels=labels,
        )
        opened = CounterMetricFamily(
            "flowmixer_circuit_opened",
            "Times a service's circuit opened (a failed probe opens it again)",
            labels=labels,
        )
        for circuit in self._engine.circuits:
            names = [circuit.service, circuit.account or ""]
            state.add_metric(names, int(circuit.state))
            opened.add_metric(names, circuit.opened)
        yield state
        yield opened


class _StoredLetters(Collector):
    """The ``flowmixer_dead_letters`` gauge: the rows the last scrape read from the store."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int]] = []

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "flowmixer_dead_letters", "Dead letters kept in the store", labels=["flow", "component"]
        )
        for flow_id, component_id, count in self.rows:
            gauge.add_metric([flow_id, component_id], count)
        yield gauge


class Metrics:
    """One server's metrics; each server (and each test) has its own registry."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.registry = CollectorRegistry()
        if engine is not None:
            self.observe(engine)
        self._api_calls = Counter(
            "flowmixer_api_calls",
            "Calls to services, by HTTP status (or 'error' when no answer came)",
            ["service", "status"],
            registry=self.registry,
        )
        self._rate_limit_waits = Counter(
            "flowmixer_rate_limit_waits",
            "Times a call waited for its service's rate limit",
            ["service"],
            registry=self.registry,
        )
        self._rate_limit_seconds = Counter(
            "flowmixer_rate_limit_wait_seconds",
            "Seconds calls spent waiting for their service's rate limit",
            ["service"],
            registry=self.registry,
        )
        self._token_refreshes = Counter(
            "flowmixer_token_refreshes",
            "Access-token refreshes, by outcome (ok, failed)",
            ["service", "outcome"],
            registry=self.registry,
        )
        self._stored_letters = _StoredLetters()
        # Registered as a collector: the counter below claims the name for its own samples.
        self.registry.register(self._stored_letters)
        self._dead_lettered = Counter(
            "flowmixer_dead_letters",
            "Messages stored as dead letters since the server started, by error type",
            ["flow", "component", "error_type"],
            registry=self.registry,
        )
        self._loop_stalls = Counter(
            "flowmixer_loop_stalls",
            "Times the event loop did not run for longer than its threshold, by the component"
            " that was running ('' when none)",
            ["flow", "component"],
            registry=self.registry,
        )

    def observe(self, engine: Engine) -> None:
        """Report ``engine``'s message counters and queue depths (once per engine)."""
        self.registry.register(_EngineCollector(engine))

    def api_call(self, service: str, status: int | str) -> None:
        """Count one call to ``service`` answered with HTTP ``status`` (or ``"error"``)."""
        self._api_calls.labels(service=service, status=str(status)).inc()

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        """Count one wait of ``seconds`` for ``service``'s rate limit."""
        self._rate_limit_waits.labels(service=service).inc()
        self._rate_limit_seconds.labels(service=service).inc(max(seconds, 0.0))

    def token_refresh(self, service: str, *, ok: bool) -> None:
        """Count one access-token refresh for ``service``."""
        self._token_refreshes.labels(service=service, outcome="ok" if ok else "failed").inc()

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        """Count one message stored as a dead letter."""
        self._dead_lettered.labels(
            flow=flow_id, component=component_id, error_type=error_type
        ).inc()

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        """Count one stall of the event loop (from the watching thread; the counter locks)."""
        self._loop_stalls.labels(flow=flow_id, component=component_id).inc()

    def set_dead_letters(self, counts: Iterable[tuple[str, str, int]]) -> None:
        """Replace the dead-letter gauges with ``(flow, component, count)`` rows."""
        self._stored_letters.rows = list(counts)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
