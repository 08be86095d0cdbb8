"""The by-type totals of ``/metrics`` stay right while flows start and stop between scrapes
(the nodes are grouped by type once and regrouped only when the running flows change)."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from runtime.engine import Engine
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.server import Metrics
from runtime.stores.memory import MemoryStore

LOG = "flowmixer.core.Log"
SCHEDULE = "flowmixer.core.Schedule"


def ticking_flow(flow_id: str) -> dict[str, object]:
    return {
        "id": flow_id,
        "components": {
            "every-hour": {"type": SCHEDULE, "config": {"properties": {"interval": 3600}}},
            "log": {"type": LOG, "source": {"in": {"every-hour": ["out"]}}},
        },
    }


def by_type(metrics: Metrics) -> dict[tuple[str, str], float]:
    """``(family, type) -> value`` of the received totals, and the running flows."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == "flowmixer_messages_by_type_received_total":
                found["received", sample.labels["type"]] = sample.value
            elif sample.name == "flowmixer_flows_running":
                found["running", ""] = sample.value
    return found


async def first_tick_logged(engine: Engine, flow_id: str) -> None:
    """Wait until the flow's first tick reached its Log (the tick runs after the start)."""
    runner = engine.runner_of(flow_id)
    assert runner is not None
    while runner.nodes["log"].stats.received < 1:  # noqa: ASYNC110 - a counter, no event
        await asyncio.sleep(0.01)
    await engine.wait_idle(flow_id)


async def test_by_type_totals_follow_the_flows_started_and_stopped_between_scrapes():
    registry = Registry.load()
    async with Engine(MemoryStore(), on_output=lambda _: None) as engine:
        metrics = Metrics(engine)
        empty = by_type(metrics)
        await engine.start_flow(validate_flow(ticking_flow("a"), registry))
        await first_tick_logged(engine, "a")
        one = by_type(metrics)
        again = by_type(metrics)  # the same flows: the kept grouping
        await engine.start_flow(validate_flow(ticking_flow("b"), registry))
        await first_tick_logged(engine, "b")
        two = by_type(metrics)
        await engine.stop_flow("a")
        left = by_type(metrics)

    assert empty == {("running", ""): 0}
    assert one == again == {("received", LOG): 1, ("received", SCHEDULE): 0, ("running", ""): 1}
    assert two == {("received", LOG): 2, ("received", SCHEDULE): 0, ("running", ""): 2}
    assert left == {("received", LOG): 1, ("received", SCHEDULE): 0, ("running", ""): 1}
