"""Loop stalls: a component that blocks the event loop is named in a warning and a metric."""

from __future__ import annotations

import time
from dataclasses import replace

from structlog.testing import capture_logs

from runtime.component import Component, Context
from runtime.engine import Engine
from runtime.plan import FlowPlan
from runtime.server.metrics import Metrics
from runtime.stores.memory import MemoryStore
from tests import kit

THRESHOLD = 0.1
BLOCK = 0.5


class Sleeper(Component):
    """Blocks the whole event loop (as a synchronous call would) on ``{"block": true}``."""

    async def receive(self, context: Context) -> None:
        if context.message.get("block"):
            time.sleep(BLOCK)  # noqa: ASYNC251 - the fault under test
        await context.send(context.message)


class SleepyTick(Component):
    async def tick(self, context: Context) -> None:
        time.sleep(BLOCK)  # noqa: ASYNC251 - the fault under test


def sleeping(flow_id: str = "f") -> FlowPlan:
    flow = kit.plan(flow_id, {"hook": "Hook", "slow": "Echo"}, [("hook", "slow")])
    return replace(flow, nodes={**flow.nodes, "slow": replace(flow.nodes["slow"], handler=Sleeper)})


def stalls(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == "event loop stalled"]


async def test_a_handler_that_blocks_the_loop_is_named_in_one_warning_with_the_stall():
    async with Engine(MemoryStore(), stall_threshold=THRESHOLD) as engine:
        await engine.start_flow(sleeping())
        with capture_logs() as logs:
            await engine.push("f", "hook", {"block": True})
            await engine.wait_idle("f")
            await kit.eventually(lambda: bool(stalls(logs)))

    [stall] = stalls(logs)
    assert stall["log_level"] == "warning"
    assert (stall["flow_id"], stall["component_id"]) == ("f", "slow")
    assert BLOCK - THRESHOLD <= stall["seconds"] < 5


async def test_a_tick_that_blocks_the_loop_is_named_too():
    flow = kit.plan("p", {"poll": "Counter", "t": "Echo"}, [("poll", "t")], tick={"poll": 60})
    flow = replace(
        flow, nodes={**flow.nodes, "poll": replace(flow.nodes["poll"], handler=SleepyTick)}
    )
    async with Engine(MemoryStore(), stall_threshold=THRESHOLD) as engine:
        with capture_logs() as logs:
            await engine.start_flow(flow)
            await kit.eventually(lambda: bool(stalls(logs)))

    assert (stalls(logs)[0]["flow_id"], stalls(logs)[0]["component_id"]) == ("p", "poll")


async def test_a_flow_that_never_blocks_logs_no_stall():
    async with Engine(MemoryStore()) as engine:  # the default threshold, 0.25 s
        await engine.start_flow(sleeping())
        with capture_logs() as logs:
            for n in range(200):
                await engine.push("f", "hook", {"n": n})
            await engine.wait_idle("f")

    assert stalls(logs) == []


async def test_a_stall_is_counted_in_the_metrics_by_flow_and_component():
    metrics = Metrics()
    async with Engine(MemoryStore(), stall_threshold=THRESHOLD, telemetry=metrics) as engine:
        await engine.start_flow(sleeping())
        with capture_logs() as logs:
            await engine.push("f", "hook", {"block": True})
            await engine.wait_idle("f")
            await kit.eventually(lambda: bool(stalls(logs)))

    assert b'flowmixer_loop_stalls_total{component="slow",flow="f"} 1.0' in metrics.render()


async def test_the_watch_stops_with_the_engine():
    engine = Engine(MemoryStore(), stall_threshold=THRESHOLD)
    await engine.start_flow(sleeping())
    watch = engine._loop_watch
    assert watch is not None
    assert watch.running
    await engine.close()

    assert not watch.running
