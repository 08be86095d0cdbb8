"""What ``/metrics`` reads from the engine at a scrape: totals by component type, and per flow on
request.

A server may run thousands of flows: a series per flow and component costs the scrape time and
size in proportion (10,000 two-component flows made 8.6 MB), so the default answer sums the
running flows' counters by component type (``flowmixer_messages_by_type_*``,
``flowmixer_queue_depth_by_type``) and counts the flows by state (``flowmixer_flows``); the
per-flow series (``flowmixer_messages_*{flow,component}``, ``flowmixer_queue_depth``) come only
for the flows a scrape names (``?flow=ID``) or, with ``?flows=1``, for every running flow.

Everything here is plain reads of the engine's counters, safe from another thread (the
server builds the answer on a worker thread, see :mod:`runtime.server.metrics_render`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from operator import attrgetter, itemgetter, methodcaller
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from runtime.brokers.base import Channel
    from runtime.engine import Engine
    from runtime.flow_runner import FlowRunner
    from runtime.node import ComponentStats

COUNTED = ("received", "sent", "failed", "retried", "deferred", "dead_lettered")
STATES = ("starting", "running", "paused", "stopping")
_depth = methodcaller("reported_depth")
_status = attrgetter("status")


@dataclass(frozen=True, slots=True)
class FlowSelection:
    """Which flows get series of their own: every running one (``every``), or those named."""

    every: bool = False
    named: frozenset[str] = frozenset()

    @property
    def any(self) -> bool:
        return self.every or bool(self.named)


class TypeGroups:
    """The running flows' nodes grouped by component type, regrouped only when the flows running
    changed since the last scrape: walking 10,000 flows' nodes was most of a scrape's time,
    while the flows of a server change far less often than it is scraped.

    One instance per :class:`~runtime.server.metrics.Metrics`; two scrapes on two threads may
    regroup at once, each replacing the whole cached tuple in one assignment.
    """

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        self._cached: tuple[
            list[FlowRunner], dict[str, list[ComponentStats]], dict[str, list[Channel]]
        ] = ([], {}, {})

    def of(
        self, runners: list[FlowRunner]
    ) -> tuple[dict[str, list[ComponentStats]], dict[str, list[Channel]]]:
        """Each type's stats and channels among ``runners``' nodes."""
        known, stats, channels = self._cached
        if runners == known:  # compares by identity first: a C loop, no __eq__ is defined
            return stats, channels
        stats, channels = {}, {}
        for runner in runners:
            for node in runner.nodes.values():
                kind = node.plan.type
                if kind in stats:
                    stats[kind].append(node.stats)
                    channels[kind].append(node.channel)
                else:
                    stats[kind] = [node.stats]
                    channels[kind] = [node.channel]
        self._cached = (runners, stats, channels)
        return stats, channels


def engine_metrics(
    engine: Engine, selection: FlowSelection, groups: TypeGroups | None = None
) -> Iterator[Metric]:
    """The engine's families: totals by type and state always, per-flow ones as selected."""
    runners = engine.runners()
    yield from _by_type(runners, groups or TypeGroups())
    if selection.any:
        chosen = [
            (runner.plan.id, runner)
            for runner in runners
            if selection.every or runner.plan.id in selection.named
        ]
        chosen.sort(key=itemgetter(0))
        yield from _per_flow(chosen)
    yield from _circuits(engine)


def _by_type(runners: list[FlowRunner], groups: TypeGroups) -> Iterator[Metric]:
    stats, channels = groups.of(runners)
    states = Counter(map(_status, runners))
    # Summed with map and attrgetter (C loops): with 10,000 flows this runs over every
    # component, and a Python loop with a dict update per counter took ten times as long.
    totals = {
        name: {kind: sum(map(attrgetter(name), group)) for kind, group in stats.items()}
        for name in COUNTED
    }
    depths = {kind: sum(map(_depth, group)) for kind, group in channels.items()}
    for name, by_type in totals.items():
        family = CounterMetricFamily(
            f"flowmixer_messages_by_type_{name}",
            f"Messages {name.replace('_', ' ')}, summed over the running flows by component type",
            labels=["type"],
        )
        for kind in sorted(by_type):
            family.add_metric([kind], by_type[kind])
        yield family
    depth = GaugeMetricFamily(
        "flowmixer_queue_depth_by_type",
        "Messages waiting, summed over the running flows by component type",
        labels=["type"],
    )
    for kind in sorted(depths):
        depth.add_metric([kind], depths[kind])
    yield depth
    flows = GaugeMetricFamily("flowmixer_flows", "Flows in the engine, by state", labels=["state"])
    for state in STATES:
        flows.add_metric([state], states[state])
    yield flows
    yield GaugeMetricFamily(
        "flowmixer_flows_running", "Flows running in this server", value=len(runners)
    )


def _per_flow(runners: list[tuple[str, FlowRunner]]) -> Iterator[Metric]:
    counters = {
        name: CounterMetricFamily(
            f"flowmixer_messages_{name}",
            f"Messages {name.replace('_', ' ')} per component of a running flow",
            labels=["flow", "component"],
        )
        for name in COUNTED
    }
    depth = GaugeMetricFamily(
        "flowmixer_queue_depth", "Messages waiting for a component", labels=["flow", "component"]
    )
    for flow_id, runner in runners:
        for component_id, node in runner.nodes.items():
            labels = [flow_id, component_id]
            values = node.stats.as_dict()
            for name, family in counters.items():
                family.add_metric(labels, values[name])
            depth.add_metric(labels, node.channel.reported_depth())
    yield from counters.values()
    yield depth


def _circuits(engine: Engine) -> Iterator[Metric]:
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
    for circuit in engine.circuits:
        names = [circuit.service, circuit.account or ""]
        state.add_metric(names, int(circuit.state))
        opened.add_metric(names, circuit.opened)
    yield state
    yield opened
