"""The engine's side of an outage: messages and ticks wait for a circuit without using attempts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from runtime.circuit import Circuits
from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.errors import RetryError, ServiceUnavailableError
from runtime.retry import RetryPolicy
from runtime.server.metrics import Metrics
from runtime.stores.memory import MemoryStore
from tests import kit

pytestmark = pytest.mark.timeout(30)


async def test_failures_during_an_outage_use_no_attempt_and_only_the_time_limit_ends_them():
    store, outputs = MemoryStore(), list[Output]()
    retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002, max_elapsed=0.5)
    plan = kit.plan(
        "f",
        {"hook": "Hook", "a": "Flaky", "b": "Flaky"},
        [("hook", "a"), ("hook", "b")],
        properties={
            "a": {"failures": 6, "kind": "outage"},
            "b": {"failures": 999, "kind": "outage", "delay": 0.05},
        },
        retry=retry,
    )
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(plan)
        await engine.push("f", "hook", {"n": 1})
        await engine.wait_idle("f")
        received = engine.stats("f")["a"].received

    assert [(o.component_id, o.payload) for o in outputs] == [("a", {"n": 1})]
    assert received == 7  # six failures in an outage, then the delivery: two attempts allowed
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.component_id == "b"
    assert letter.attempts == 1
    assert letter.error_type == "RetryError"  # the class the failure had
    assert "maxElapsed" in letter.error


class Waiting(Component):
    """Polling trigger: its first ticks find the service's circuit open, then it sends."""

    kind = "refused"
    times: list[float]

    async def tick(self, context: Context) -> None:
        Waiting.times.append(asyncio.get_running_loop().time())
        if len(Waiting.times) <= 3:
            if Waiting.kind == "refused":
                raise ServiceUnavailableError(
                    "test:svc is unavailable", delay=0.05, service="test:svc"
                )
            failure = RetryError("no answer", delay=0.05)
            failure.outage = True
            raise failure
        await context.send({"ticks": len(Waiting.times)})


@pytest.mark.parametrize("kind", ["refused", "outage"], ids=["call refused", "failed in outage"])
async def test_a_tick_in_an_outage_waits_for_the_circuit_without_a_warning_each_interval(
    kind: str,
):
    Waiting.kind, Waiting.times = kind, []
    plan = kit.plan("f", {"poll": "Counter"}, [], tick={"poll": 0.001})
    plan = replace(plan, nodes={"poll": replace(plan.nodes["poll"], handler=Waiting)})
    outputs: list[Output] = []
    with capture_logs() as logs:
        async with Engine(MemoryStore(), on_output=outputs.append) as engine:
            await engine.start_flow(plan)
            await kit.eventually(lambda: bool(outputs))

    gaps = [
        later - earlier for earlier, later in zip(Waiting.times, Waiting.times[1:], strict=False)
    ]
    assert all(gap >= 0.049 for gap in gaps[:3])  # each waited the delay, not the 1 ms interval
    assert [e for e in logs if e["log_level"] == "warning"] == []
    assert [e["event"] for e in logs if e["event"] == "tick waits"] == ["tick waits"] * 3


def test_the_engine_keeps_one_set_of_circuits_for_all_its_flows_unless_given_one():
    given = Circuits()
    assert Engine(MemoryStore(), circuits=given).circuits is given
    assert isinstance(Engine(MemoryStore()).circuits, Circuits)


async def test_components_reach_the_engines_circuits_through_their_context():
    seen: list[Any] = []

    class Looks(Component):
        async def receive(self, context: Context) -> None:
            seen.append(context.circuits)

    circuits = Circuits()
    plan = kit.plan("f", {"hook": "Hook", "a": "Echo"}, [("hook", "a")])
    plan = replace(plan, nodes={**plan.nodes, "a": replace(plan.nodes["a"], handler=Looks)})
    async with Engine(MemoryStore(), circuits=circuits) as engine:
        await engine.start_flow(plan)
        await engine.push("f", "hook", {})
        await engine.wait_idle("f")
    assert seen == [circuits]


def test_metrics_show_each_circuits_state_and_how_many_times_it_opened():
    circuits = Circuits(threshold=1)
    engine = Engine(MemoryStore(), circuits=circuits)
    circuits.circuit("acme:pinterest", "shop").failed()
    circuits.circuit("acme:pinterest")  # made, never failed
    text = Metrics(engine).render().decode()

    assert 'flowmixer_circuit_state{account="shop",service="acme:pinterest"} 1.0' in text
    assert 'flowmixer_circuit_state{account="",service="acme:pinterest"} 0.0' in text
    assert 'flowmixer_circuit_opened_total{account="shop",service="acme:pinterest"} 1.0' in text
