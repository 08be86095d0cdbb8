"""The server's Prometheus metrics, with a small typed API for the code that counts things.

Metrics (all prefixed ``flowmixer_``):

==========================================  =====================================================
``messages_by_type_received_total{type}``    messages taken in, summed by component type (also
                                             ``sent``, ``failed``, ``retried``, ``deferred``,
                                             ``dead_lettered``)
``queue_depth_by_type{type}``                messages waiting, summed by component type
``flows{state}``                             flows in the engine by state (``running``, ...)
``flows_running``                            flows running in this server
``messages_received_total{flow,component}``  per flow, only for the flows a scrape asks for
                                             (``?flow=ID``, ``?flows=1``); also the other five
``queue_depth{flow,component}``              per flow, as above
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

The dead-letter and stall series grow with trouble, not with the flows deployed, so they stay
per flow; the message counters and depths are per type unless asked for
(:mod:`runtime.server.metrics_engine`).
Message counters come from the engine at scrape time, so they restart at 0 when a flow
restarts (Prometheus' ``rate`` handles such resets). Circuits are read from the engine at
scrape time too; they last as long as the engine (:mod:`runtime.circuit`). The API,
rate-limit and refresh counters are fed by the code that makes calls: :class:`Metrics` is the
engine's and the auth provider's :class:`~runtime.telemetry.Telemetry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runtime.server.metrics_engine import FlowSelection, TypeGroups, engine_metrics

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from prometheus_client.metrics_core import Metric

    from runtime.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NO_FLOWS = FlowSelection()


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
        self._engine = engine
        self._groups = TypeGroups()
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
        self._api_call_counts: dict[tuple[str, int | str], Any] = {}
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
        self._labels: dict[str, str] = {}
        self._loop_stalls = Counter(
            "flowmixer_loop_stalls",
            "Times the event loop did not run for longer than its threshold, by the component"
            " that was running ('' when none)",
            ["flow", "component"],
            registry=self.registry,
        )

    def label(self, **labels: str) -> None:
        """Add ``labels`` (e.g. the process's role and id) to every series of every scrape."""
        self._labels = dict(labels)

    def observe(self, engine: Engine) -> None:
        """Report ``engine``'s message counters, queue depths and circuits."""
        self._engine = engine

    def api_call(self, service: str, status: int | str) -> None:
        """Count one call to ``service`` answered with HTTP ``status`` (or ``"error"``)."""
        # One labelled child per service and status, looked up once: labels() costs a lock
        # and a few microseconds on every call (statuses and services are few).
        key = (service, status)
        child = self._api_call_counts.get(key)
        if child is None:
            child = self._api_call_counts[key] = self._api_calls.labels(
                service=service, status=str(status)
            )
        child.inc()

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

    def render(self, flows: FlowSelection = _NO_FLOWS) -> bytes:
        """Every metric in the Prometheus text format (:data:`CONTENT_TYPE`), with per-flow
        series for the ``flows`` selected (see :mod:`runtime.server.metrics_engine`)."""
        scrape = _Scrape(self.registry, self._engine, flows, self._groups, self._labels)
        return generate_latest(scrape)


class _Scrape:
    """The registry's metrics and the engine's, as one collection for one scrape (the
    per-flow selection differs from scrape to scrape, so the engine is no registered
    collector)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        engine: Engine | None,
        flows: FlowSelection,
        groups: TypeGroups,
        labels: dict[str, str],
    ) -> None:
        self._labels = labels
        self._registry = registry
        self._engine = engine
        self._flows = flows
        self._groups = groups

    def collect(self) -> Iterator[Metric]:
        if not self._labels:
            yield from self._metrics()
            return
        for metric in self._metrics():
            metric.samples = [
                sample._replace(labels={**sample.labels, **self._labels})
                for sample in metric.samples
            ]
            yield metric

    def _metrics(self) -> Iterator[Metric]:
        if self._engine is not None:
            yield from engine_metrics(self._engine, self._flows, self._groups)
        yield from self._registry.collect()
