"""The in-memory channel: FIFO order, backpressure, waiter hand-off, delayed retries, drain."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.brokers.memory import MemoryBroker, MemoryChannel
from runtime.envelope import Envelope


def envelope(n: int) -> Envelope:
    return Envelope("f", "c", "in", n, f"corr-{n}")


async def test_items_come_out_in_the_order_they_went_in():
    channel = MemoryChannel(10)
    for n in range(5):
        await channel.put(envelope(n))
    assert [(await channel.get()).payload for _ in range(5)] == [0, 1, 2, 3, 4]
    assert channel.get_nowait() is None


async def test_offer_refuses_when_full_and_put_waits_for_room():
    channel = MemoryChannel(2)
    assert channel.offer(envelope(0))
    assert channel.offer(envelope(1))
    assert not channel.offer(envelope(2))
    waiting = asyncio.ensure_future(channel.put(envelope(2)))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert (await channel.get()).payload == 0
    await asyncio.wait_for(waiting, 1)
    assert channel.depth() == 2


async def test_a_waiting_get_is_woken_by_a_put():
    channel = MemoryChannel(1)
    getter = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    await channel.put(envelope(9))
    assert (await asyncio.wait_for(getter, 1)).payload == 9


async def test_a_cancelled_getter_passes_its_wake_up_to_the_next_one():
    channel = MemoryChannel(5)
    first = asyncio.ensure_future(channel.get())
    second = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    channel.offer(envelope(1))  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert (await asyncio.wait_for(second, 1)).payload == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_delayed_retry_comes_back_after_its_delay_and_counts_in_the_depth():
    channel = MemoryChannel(5)
    env = envelope(1)
    await channel.retry_later(env, 0.05)
    assert channel.depth() == 1
    assert channel.get_nowait() is None
    got = await asyncio.wait_for(channel.get(), 1)
    assert got is env
    assert channel.depth() == 0


async def test_a_retry_that_falls_due_while_the_channel_is_full_waits_for_room():
    channel = MemoryChannel(1)
    channel.offer(envelope(0))
    await channel.retry_later(envelope(1), 0.0)
    await asyncio.sleep(0.01)
    assert channel.depth() == 2
    assert (await channel.get()).payload == 0
    assert (await asyncio.wait_for(channel.get(), 1)).payload == 1


async def test_drain_takes_queued_and_delayed_envelopes_and_cancels_the_timers():
    channel = MemoryChannel(5)
    channel.offer(envelope(0))
    await channel.retry_later(envelope(1), 10)
    held = channel.drain()
    assert sorted(e.payload for e in held) == [0, 1]
    assert channel.depth() == 0


def test_a_channel_needs_room_for_at_least_one_message():
    with pytest.raises(ValueError, match="at least 1"):
        MemoryChannel(0)


def test_the_broker_gives_the_same_channel_for_the_same_component_until_released():
    broker = MemoryBroker()
    first = broker.channel("f", "c", maxsize=3)
    assert broker.channel("f", "c", maxsize=3) is first
    broker.release("f")
    assert broker.channel("f", "c", maxsize=3) is not first


@settings(max_examples=50, deadline=None)
@given(
    maxsize=st.integers(1, 8),
    producers=st.lists(st.lists(st.integers(), max_size=20), min_size=1, max_size=4),
)
def test_concurrent_producers_and_one_consumer_lose_and_duplicate_nothing(maxsize, producers):
    async def scenario() -> list[int]:
        channel = MemoryChannel(maxsize)
        total = sum(len(p) for p in producers)

        async def produce(items: list[int]) -> None:
            for item in items:
                await channel.put(envelope(item))

        async def consume() -> list[int]:
            return [(await channel.get()).payload for _ in range(total)]

        consumer = asyncio.ensure_future(consume())
        await asyncio.gather(*(produce(p) for p in producers))
        return await asyncio.wait_for(consumer, 5)

    got = asyncio.run(scenario())
    assert sorted(got) == sorted(item for p in producers for item in p)
