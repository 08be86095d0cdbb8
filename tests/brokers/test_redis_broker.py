"""The Redis Streams broker's own promises: what survives a restart of the broker or of Redis,
hops settled atomically, dead letters in the store, and a flood that waits at the bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.brokers.redis import RedisBroker
from runtime.brokers.redis_channel import RedisChannel
from runtime.cli.broker_option import make_broker
from runtime.envelope import Envelope
from runtime.errors import ConfigurationError
from runtime.stores.base import DeadLetter
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests.redis_server import RedisServer


def envelope(n: int, component: str = "c") -> Envelope:
    return Envelope("f", component, "in", n, f"corr-{n}")


class Opened:
    def __init__(self, url: str, path: Path) -> None:
        self.url, self.path = url, path
        self.store: SQLiteStore
        self.broker: RedisBroker
        self.is_open = False

    async def open(self) -> Opened:
        self.store = await SQLiteStore.open(self.path)
        self.broker = RedisBroker(self.url, self.store, visibility_timeout=1.0)
        self.is_open = True
        return self

    async def restart(self) -> Opened:
        await self.broker.close()
        await self.store.close()
        return await self.open()

    async def channel(self, component: str = "c", maxsize: int = 100) -> RedisChannel:
        channel = self.broker.channel("f", component, maxsize=maxsize)
        await channel.restore()
        return channel


@pytest.fixture
async def db(redis_url: str, tmp_path: Path) -> AsyncIterator[Opened]:
    opened = await Opened(redis_url, tmp_path / "flowmixer.db").open()
    yield opened
    if opened.is_open:
        await opened.broker.close()
        await opened.store.close()


async def take(channel: RedisChannel) -> Envelope:
    return await asyncio.wait_for(channel.get(), 10)


async def test_a_restart_keeps_queued_messages_delayed_retries_and_parked_ones(
    db: Opened,
) -> None:
    channel = await db.channel()
    for n in range(3):
        await channel.put(envelope(n))
    retried = await take(channel)
    retried.attempt = 2
    await channel.retry_later(retried, 0.5)
    parked = await take(channel)
    await channel.park(parked, "needs re-authorizing")
    db.broker.release("f")
    await db.restart()
    channel = await db.channel()
    got = []
    for _ in range(2):
        item = await take(channel)
        got.append((item.payload, item.attempt))
        await channel.ack(item)
    assert sorted(got) == [(0, 2), (2, 1)]


async def test_a_parked_message_is_handed_back_by_restore_after_a_restart(db: Opened) -> None:
    channel = await db.channel()
    await channel.put(envelope(5))
    await channel.park(await take(channel), "needs re-authorizing")
    db.broker.release("f")
    await db.restart()
    parked = await db.broker.channel("f", "c", maxsize=10).restore()
    assert [(item.payload, error) for item, error in parked] == [(5, "needs re-authorizing")]


async def test_what_a_handler_sends_is_published_only_with_its_acknowledgement(
    db: Opened,
) -> None:
    source = await db.channel("a")
    target = await db.channel("b")
    await source.put(envelope(1, "a"))

    async def worker() -> tuple[int, int]:
        # As the engine's worker does: take, handle (send), acknowledge, in one task.
        item = await source.get()
        await target.put(envelope(2, "b"))
        await target._look()
        before = target.depth()
        await source.ack(item)
        await target._look()
        return before, target.depth()

    assert await asyncio.wait_for(worker(), 10) == (0, 1)
    assert (await take(target)).payload == 2


async def test_a_dead_letter_is_in_the_store_and_the_message_is_gone(db: Opened) -> None:
    channel = await db.channel()
    await channel.put(envelope(9))
    item = await take(channel)
    letter = DeadLetter("letter-1", item, "boom", "ValueError", 3, 0.0)
    await channel.dead_letter(item, letter, db.store)
    assert [kept.id for kept in await db.store.list_dead_letters(flow_id="f")] == ["letter-1"]
    db.broker.release("f")
    await db.restart()
    channel = await db.channel()
    assert channel.depth() == 0


async def test_messages_whose_put_returned_survive_redis_killed_and_restarted(
    db: Opened, redis_server: RedisServer
) -> None:
    channel = await db.channel()
    for n in range(50):
        await channel.put(envelope(n))
    redis_server.kill()
    redis_server.start()
    got = []
    for _ in range(50):
        item = await take(channel)
        got.append(item.payload)
        await channel.ack(item)
    assert sorted(got) == list(range(50))


async def test_a_flood_beyond_the_bound_waits_instead_of_dropping(db: Opened) -> None:
    channel = await db.channel(maxsize=5)
    flood = [asyncio.ensure_future(channel.put(envelope(n))) for n in range(20)]
    await asyncio.sleep(0.3)
    assert sum(task.done() for task in flood) <= 5
    got = []
    for _ in range(20):
        item = await take(channel)
        got.append(item.payload)
        await channel.ack(item)
    await asyncio.gather(*flood)
    assert sorted(got) == list(range(20))


async def test_the_redis_broker_refuses_an_in_memory_store() -> None:
    with pytest.raises(ConfigurationError, match="--redis needs a database"):
        make_broker("memory", MemoryStore(), "redis://127.0.0.1:1/0")
