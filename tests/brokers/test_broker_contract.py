"""What every broker promises the engine: the memory, SQLite, PostgreSQL and Redis brokers.

Each test runs once per broker (``kit``, see ``conftest.py``). Where the durable brokers keep
what a process held and the memory broker cannot, the test says which it expects.
"""

from __future__ import annotations

import asyncio
import time

from runtime.brokers.base import Channel
from runtime.envelope import Envelope
from tests.brokers.conftest import Kit


def envelope(n: int, flow: str = "f", component: str = "c") -> Envelope:
    return Envelope(flow, component, "in", n, f"corr-{n}")


async def publish(channel: Channel, item: Envelope) -> None:
    if not channel.offer(item):
        await channel.put(item)


async def take(channel: Channel) -> Envelope:
    return channel.get_nowait() or await asyncio.wait_for(channel.get(), 10)


async def opened(kit: Kit, maxsize: int = 10, flow: str = "f") -> Channel:
    channel = kit.broker.channel(flow, "c", maxsize=maxsize)
    await channel.restore()
    return channel


async def test_messages_come_out_in_the_order_they_went_in(kit: Kit) -> None:
    channel = await opened(kit)
    for n in range(5):
        await publish(channel, envelope(n))
    got = []
    for _ in range(5):
        item = await take(channel)
        got.append(item.payload)
        await channel.ack(item)
    assert got == [0, 1, 2, 3, 4]


async def test_an_acknowledged_message_is_not_delivered_again_after_a_restart(kit: Kit) -> None:
    channel = await opened(kit)
    await publish(channel, envelope(1))
    await publish(channel, envelope(2))
    first = await take(channel)
    await channel.ack(first)
    second = await take(channel)
    await channel.ack(second)
    kit.broker.release("f")
    await kit.restart()
    channel = await opened(kit)
    assert channel.depth() == 0
    assert channel.get_nowait() is None


async def test_a_delayed_retry_comes_back_after_its_delay_with_its_attempt_recorded(
    kit: Kit,
) -> None:
    channel = await opened(kit)
    await publish(channel, envelope(7))
    item = await take(channel)
    item.attempt += 1
    asked = time.monotonic()
    await channel.retry_later(item, 0.3)
    again = await take(channel)
    assert time.monotonic() - asked >= 0.25
    assert (again.payload, again.attempt) == (7, 2)
    await channel.ack(again)


async def test_a_parked_message_waits_until_it_is_unparked(kit: Kit) -> None:
    channel = await opened(kit)
    await publish(channel, envelope(3))
    item = await take(channel)
    await channel.park(item, "the account needs re-authorizing")
    assert channel.depth() == 0
    await channel.unpark(item)
    again = await take(channel)
    assert again.payload == 3
    await channel.ack(again)


async def test_what_drain_hands_back_and_what_is_kept_are_every_message_exactly_once(
    kit: Kit,
) -> None:
    channel = await opened(kit)
    for n in range(4):
        await publish(channel, envelope(n))
    first = await take(channel)
    await channel.ack(first)
    channel.stopping()
    drained = [item.payload for item in channel.drain()]
    kit.broker.release("f")
    await kit.restart()
    channel = await opened(kit)
    kept = []
    while channel.depth():
        item = await take(channel)
        kept.append(item.payload)
        await channel.ack(item)
    assert sorted(drained + kept) == [1, 2, 3]
    if not kit.broker.durable:
        assert drained == [1, 2, 3]


async def test_deleting_a_flow_drops_its_messages_and_no_other_flows(kit: Kit) -> None:
    doomed = await opened(kit, flow="doomed")
    kept = await opened(kit, flow="kept")
    for n in range(3):
        await publish(doomed, envelope(n, flow="doomed"))
    await publish(kept, envelope(9, flow="kept"))
    kit.broker.release("doomed")
    kit.broker.release("kept")
    deleted = await kit.broker.delete_flow("doomed")
    await kit.restart()
    doomed = await opened(kit, flow="doomed")
    kept = await opened(kit, flow="kept")
    assert doomed.depth() == 0
    if kit.broker.durable:
        assert deleted == 3
        assert kept.depth() == 1
        assert (await take(kept)).payload == 9


async def test_a_put_into_a_full_channel_waits_until_a_message_is_taken(kit: Kit) -> None:
    channel = await opened(kit, maxsize=2)
    await publish(channel, envelope(1))
    await publish(channel, envelope(2))
    third = asyncio.ensure_future(publish(channel, envelope(3)))
    done, _ = await asyncio.wait([third], timeout=0.5)
    assert not done, "a put into a full channel returned"
    item = await take(channel)
    await channel.ack(item)
    await asyncio.wait_for(third, 10)
    got = [(await take(channel)).payload for _ in range(2)]
    assert got == [2, 3]
