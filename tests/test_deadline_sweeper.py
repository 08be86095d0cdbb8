"""One deadline sweeper per engine: idle flows cost it nothing, busy ones share its timers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.deadlines import sweep_period
from runtime.engine import Engine
from runtime.plan import FlowPlan
from runtime.stores.memory import MemoryStore
from tests import kit
from tests.test_timeouts import Hang, timed


def hook_to_echo(flow_id: str, *, timeout: float = 0.2) -> FlowPlan:
    flow = kit.plan(flow_id, {"hook": "Hook", "a": "Echo"}, [("hook", "a")])
    nodes = {cid: replace(node, timeout=timeout) for cid, node in flow.nodes.items()}
    return replace(flow, nodes=nodes)


def hanging(flow_id: str, timeout: float) -> FlowPlan:
    """Hook -> Hang, both components with ``timeout``."""
    flow = timed(Hang, timeout=timeout)
    hook = replace(flow.nodes["hook"], timeout=timeout)
    return replace(flow, id=flow_id, name=flow_id, nodes={**flow.nodes, "hook": hook})


def deadline_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if "deadline" in t.get_name()]


async def test_idle_flows_hold_no_sweeper_timer_and_no_task_beyond_their_workers():
    async with Engine(MemoryStore()) as engine:
        before = len(asyncio.all_tasks())
        for n in range(20):
            await engine.start_flow(hook_to_echo(f"f{n}"))
        await asyncio.sleep(0.3)  # several periods of a 0.2 s timeout

        assert len(asyncio.all_tasks()) - before == 20 * 2  # a worker per component
        assert deadline_tasks() == []
        assert (engine.deadlines.watched(), engine.deadlines.timers()) == (0, 0)


async def test_a_message_has_its_nodes_watched_until_the_sweeper_finds_them_idle_again():
    outputs: list[object] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        for n in range(10):
            await engine.start_flow(hook_to_echo(f"f{n}"))
        await engine.push("f3", "hook", {"n": 1})
        await engine.wait_idle()

        assert engine.deadlines.watched() == 2  # the two nodes of f3, none of the other flows
        assert engine.deadlines.timers() == 1
        await kit.eventually(lambda: engine.deadlines.timers() == 0, timeout=10)
        assert engine.deadlines.watched() == 0
        assert len(outputs) == 1


async def test_hung_calls_of_many_flows_share_one_timer_and_each_times_out():
    store = MemoryStore()
    async with Engine(store) as engine:
        for n in range(30):
            await engine.start_flow(hanging(f"f{n}", 0.2))
            await engine.push(f"f{n}", "hook", {"hang": True})
        await kit.eventually(lambda: engine.deadlines.watched() >= 30)

        assert engine.deadlines.timers() == 1
        assert deadline_tasks() == []
        await asyncio.wait_for(engine.wait_idle(), 20)
        letters = await store.list_dead_letters(limit=100)
        await kit.eventually(lambda: engine.deadlines.timers() == 0, timeout=10)

    assert sorted(letter.flow_id for letter in letters) == sorted(f"f{n}" for n in range(30))
    assert {(letter.error_type, letter.attempts) for letter in letters} == {("CallTimeoutError", 2)}


async def test_flows_started_and_stopped_while_the_sweeper_runs_keep_their_own_outcomes():
    store = MemoryStore()
    async with Engine(store) as engine:
        await engine.start_flow(hanging("short", 0.2))
        await engine.start_flow(hanging("long", 60))
        await engine.push("short", "hook", {"hang": True})
        await engine.push("long", "hook", {"hang": True})
        await kit.eventually(lambda: engine.stats("long")["a"].received == 1)
        # started while the sweeper times "short"; stopped while "later" is timed
        await engine.start_flow(hanging("later", 0.4))
        await engine.push("later", "hook", {"hang": True})
        await engine.stop_flow("long", timeout=0.05)
        await asyncio.wait_for(engine.wait_idle(), 20)
        await engine.stop_flow("short")
        await engine.stop_flow("later")

        assert (engine.deadlines.watched(), engine.deadlines.timers()) == (0, 0)
        letters = {letter.flow_id: letter for letter in await store.list_dead_letters()}

    assert (letters["long"].error_type, letters["long"].attempts) == ("Stopped", 1)
    for flow_id in ("short", "later"):
        assert (letters[flow_id].error_type, letters[flow_id].attempts) == ("CallTimeoutError", 2)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(timeouts=st.lists(st.sampled_from([0.2, 0.3, 1.0, 8.0, 60.0, 600.0]), max_size=6))
async def test_any_mix_of_timeouts_holds_one_timer_per_period_in_use_and_none_once_stopped(
    timeouts: list[float],
):
    async with Engine(MemoryStore()) as engine:
        for n, timeout in enumerate(timeouts):
            await engine.start_flow(hanging(f"f{n}", timeout))
            await engine.push(f"f{n}", "hook", {"hang": True})
        await kit.eventually(
            lambda: all(engine.stats(f"f{n}")["a"].received for n in range(len(timeouts)))
        )

        assert engine.deadlines.timers() == len({sweep_period(t) for t in timeouts})
        for n in range(len(timeouts)):
            await engine.stop_flow(f"f{n}", timeout=0.01)
        assert (engine.deadlines.watched(), engine.deadlines.timers()) == (0, 0)
