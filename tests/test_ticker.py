"""Polling driven by loop timers: a trigger waiting for its next tick holds no task, and a
trigger that takes no events no worker."""

from __future__ import annotations

import asyncio
import time

from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.plan import FlowPlan
from runtime.stores.base import DeadLetter
from runtime.stores.memory import MemoryStore
from tests import kit


def polling(flow_id: str, interval: float = 3600) -> FlowPlan:
    return kit.plan(
        flow_id, {"poll": "Counter", "t": "Echo"}, [("poll", "t")], tick={"poll": interval}
    )


async def test_idle_polling_flows_hold_no_task_while_they_wait_for_their_next_tick():
    kit.Counter.ticks_running = 0
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        before = len(asyncio.all_tasks())
        for n in range(20):
            await engine.start_flow(polling(f"f{n}"))
        await kit.eventually(lambda: len(outputs) == 20)  # each flow's first tick, delivered
        await engine.wait_idle()
        await asyncio.sleep(0)  # the ticks' tasks end

        assert len(asyncio.all_tasks()) - before == 20  # the worker of each flow's Echo
        assert not [t for t in asyncio.all_tasks() if t.get_name().endswith(":tick")]
        assert all(engine.stats(f"f{n}")["poll"].ticks == 1 for n in range(20))


async def test_a_trigger_ticks_again_at_its_interval_from_the_start_of_its_last_tick():
    kit.Counter.ticks_running = 0
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(polling("f", interval=0.01))
        await kit.eventually(lambda: len(outputs) >= 5)

    counts = [o.payload["count"] for o in outputs]
    assert counts == list(range(1, len(counts) + 1))


async def test_a_stopped_flow_leaves_no_timer_for_its_next_tick():
    kit.Counter.ticks_running = 0
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(polling("f"))
        await kit.eventually(lambda: len(outputs) == 1)
        runner = engine.runner_of("f")
        assert runner is not None
        await kit.eventually(lambda: runner._ticker.waiting() == 1)
        await engine.stop_flow("f")

        assert runner._ticker.waiting() == 0
        await asyncio.sleep(0.05)
    assert len(outputs) == 1


async def test_a_flow_stopped_during_a_tick_lets_it_finish_and_ticks_no_more():
    kit.Counter.ticks_running = 0
    outputs: list[Output] = []
    flow = kit.plan(
        "f",
        {"poll": "Counter", "t": "Echo"},
        [("poll", "t")],
        tick={"poll": 0.001},
        properties={"poll": {"work": 0.05}},
    )
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        await kit.eventually(lambda: kit.Counter.ticks_running == 1)
        runner = engine.runner_of("f")
        assert runner is not None
        await engine.stop_flow("f", timeout=5)
        ticks = runner.nodes["poll"].stats.ticks
        await asyncio.sleep(0.05)

        assert runner.nodes["poll"].stats.ticks == ticks
    # the tick running at the stop finished: its message was delivered like the others'
    assert [o.payload["count"] for o in outputs] == list(range(1, ticks + 1))


async def test_a_polling_trigger_has_no_worker_until_a_message_comes_for_it_and_none_is_lost():
    kit.Counter.ticks_running = 0
    store, outputs = MemoryStore(), []
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(polling("f"))
        await kit.eventually(lambda: len(outputs) == 1)
        runner = engine.runner_of("f")
        assert runner is not None
        assert runner.nodes["poll"].workers() == []
        assert len(runner.nodes["t"].workers()) == 1
        # a dead letter of the trigger (say, from when it was a webhook), retried by a person
        stray = Envelope("f", "poll", "in", {"n": 1}, "c1")
        await store.add_dead_letter(DeadLetter("d1", stray, "old", "Boom", 1, time.time()))
        assert await engine.retry_dead_letter("d1") == "requeued"
        await asyncio.wait_for(engine.wait_idle("f"), 10)

        assert len(runner.nodes["poll"].workers()) == 1
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.envelope.payload == {"n": 1}
    assert letter.error_type == "NotImplementedError"  # a polling trigger receives nothing
