"""Webhook events a flow takes from another thread (``FlowRunner.from_thread``): the engine
runs on a loop of its own thread, the test plays the server's front on its own loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.sqlite import SQLiteBroker, SQLiteChannel
from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.errors import EngineError
from runtime.flow_runner import STOPPED_REASON, FlowRunner
from runtime.server.bridge import Bridge
from runtime.server.engine_loop import EngineLoop
from runtime.stores.sqlite import SQLiteStore
from tests.kit import eventually, plan

FLOW = plan("f", {"hook": "Hook", "echo": "Echo"}, [("hook", "echo")])


@dataclass
class Split:
    engine: Engine
    store: SQLiteStore
    bridge: Bridge
    outputs: list[Output]

    async def on_engine(self, work: Any) -> Any:
        return await self.bridge.call(work)

    def runner(self) -> FlowRunner:
        runner = self.engine.runner_of("f")
        assert runner is not None
        return runner


@pytest.fixture(params=["memory", "sqlite"])
async def split(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Split]:
    engine_loop = EngineLoop()
    bridge = Bridge(engine_loop.start())
    outputs: list[Output] = []
    try:
        async with await SQLiteStore.open(tmp_path / "db") as store:

            async def make() -> Engine:
                broker = SQLiteBroker(store) if request.param == "sqlite" else None
                return Engine(store, broker=broker, on_output=outputs.append, queue_size=4)

            engine = await bridge.call(make())
            await bridge.call(engine.start_flow(FLOW))
            try:
                yield Split(engine, store, bridge, outputs)
            finally:
                await bridge.call(engine.close())
                await bridge.call(engine.broker.close())
    finally:
        engine_loop.stop()


def envelope(payload: Any) -> Envelope:
    return Envelope("f", "hook", "webhook", payload, f"e-{payload}", id=f"e-{payload}")


async def commit(split: Split, channel: Any, event: Envelope) -> int | None:
    """What the front does between reserving and handing over: the row of a durable channel."""
    if not isinstance(channel, SQLiteChannel):
        return None
    writes = GroupCommit(split.store, logger=structlog.get_logger("test"))
    row: int = await writes.submit(channel.row_from_thread(event))
    return row


async def test_an_event_handed_over_from_another_thread_is_pending_until_handled(
    split: Split,
) -> None:
    handover = split.runner().from_thread
    channel = handover.reserve("hook")
    assert channel is not None
    row = await commit(split, channel, event := envelope(1))
    handover.hand_over(channel, event, row)
    await split.on_engine(split.engine.wait_idle("f"))

    assert [(o.correlation_id, o.payload) for o in split.outputs] == [("e-1", 1)]


async def test_reserved_room_counts_against_the_bound_until_it_is_withdrawn(split: Split) -> None:
    handover = split.runner().from_thread
    channels = [handover.reserve("hook") for _ in range(4)]
    depth_full = split.engine.depths("f")["hook"]
    for channel in channels[:3]:
        assert channel is not None
        handover.withdraw(channel)
    await split.on_engine(split.engine.wait_idle("f"))

    # The bound is 4; the last place stays for a publish the engine's loop may be making.
    assert channels[3] is None  # then the event is pushed on the engine's loop instead
    assert depth_full == 3
    assert split.engine.depths("f")["hook"] == 0
    assert split.outputs == []


async def test_reserving_for_a_component_that_is_not_a_webhook_or_a_stopped_flow_is_refused(
    split: Split,
) -> None:
    runner = split.runner()
    with pytest.raises(EngineError, match="has no webhook trigger 'echo'"):
        runner.from_thread.reserve("echo")
    await split.on_engine(split.engine.stop_flow("f"))
    with pytest.raises(EngineError, match="is stopped; it accepts no events"):
        runner.from_thread.reserve("hook")


async def test_a_stop_waits_for_an_event_reserved_before_it_and_handles_or_keeps_it(
    split: Split,
) -> None:
    runner = split.runner()
    channel = runner.from_thread.reserve("hook")
    assert channel is not None
    stop = asyncio.ensure_future(split.on_engine(split.engine.stop_flow("f")))
    await eventually(lambda: runner.status == "stopping")
    row = await commit(split, channel, event := envelope(2))
    runner.from_thread.hand_over(channel, event, row)
    await stop
    handled = [o.correlation_id for o in split.outputs]

    if split.engine.broker.durable:  # a durable stop returns at once: the row waits for a start
        assert handled == []
        await split.on_engine(split.engine.start_flow(FLOW))
        await split.on_engine(split.engine.wait_idle("f"))
        assert [o.correlation_id for o in split.outputs] == ["e-2"]
    else:
        assert handled == ["e-2"]


async def test_an_event_arriving_after_the_stop_gave_up_is_kept_not_lost(split: Split) -> None:
    runner = split.runner()
    channel = runner.from_thread.reserve("hook")
    assert channel is not None
    await split.on_engine(split.engine.stop_flow("f", timeout=0))
    row = await commit(split, channel, event := envelope(3))
    runner.from_thread.hand_over(channel, event, row)

    if split.engine.broker.durable:  # its row waits: delivered at the next start
        await split.on_engine(split.engine.start_flow(FLOW))
        await split.on_engine(split.engine.wait_idle("f"))
        assert [o.correlation_id for o in split.outputs] == ["e-3"]
    else:  # nothing else holds it: a dead letter to retry
        async with asyncio.timeout(5):
            while not (letters := await split.store.list_dead_letters()):  # noqa: ASYNC110 - written from the engine thread
                await asyncio.sleep(0.001)
        assert [(letter.envelope.id, letter.error) for letter in letters] == [
            ("e-3", STOPPED_REASON)
        ]


async def test_room_asked_for_is_reserved_on_the_flows_loop_up_to_the_bound_exactly(
    split: Split,
) -> None:
    handover = split.runner().from_thread
    node = split.runner().nodes["hook"]
    await split.on_engine(node.stop_workers())  # nothing takes from the channel now
    reserved = [handover.reserve("hook") for _ in range(4)]
    front = asyncio.get_running_loop()
    delivered: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(outcome: Any) -> None:  # called on the engine's loop
        front.call_soon_threadsafe(delivered.put_nowait, outcome)

    handover.ask_for_room("hook", deliver)
    last = await delivered.get()
    depth_full = split.engine.depths("f")["hook"]
    handover.ask_for_room("hook", deliver)
    handover.withdraw(last)  # frees a place: the second ask takes it
    again = await delivered.get()
    handover.ask_for_room("hook", deliver)
    handover.unask("hook")  # given up before a place freed
    for channel in [*reserved[:3], again]:
        assert channel is not None
        handover.withdraw(channel)
    await split.on_engine(split.engine.wait_idle("f"))

    assert reserved[3] is None  # from this thread, the last place stays free...
    assert last is node.channel  # ...and the flow's loop gives it
    assert depth_full == 4
    assert again is node.channel
    assert delivered.empty()  # the ask given up took nothing
    assert split.engine.depths("f")["hook"] == 0


async def test_a_stop_refuses_the_room_still_asked_for(split: Split) -> None:
    handover = split.runner().from_thread
    await split.on_engine(split.runner().nodes["hook"].stop_workers())
    reserved = [handover.reserve("hook") for _ in range(3)]
    front = asyncio.get_running_loop()
    delivered: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(outcome: Any) -> None:
        front.call_soon_threadsafe(delivered.put_nowait, outcome)

    handover.ask_for_room("hook", deliver)
    handover.ask_for_room("hook", deliver)  # the bound is reached: this one waits
    first = await delivered.get()
    stop = asyncio.ensure_future(split.on_engine(split.engine.stop_flow("f", timeout=0)))
    refused = await delivered.get()
    for channel in [*reserved, first]:
        assert channel is not None
        handover.withdraw(channel)
    await stop

    assert isinstance(refused, EngineError)
    assert "it accepts no events" in str(refused)
