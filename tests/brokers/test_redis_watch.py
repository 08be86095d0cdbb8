"""The Redis broker's upkeep: depths of the whole cluster, reachability, the outbox's sweep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from runtime.brokers.redis import RedisBroker
from runtime.envelope import Envelope
from runtime.stores import codec, sqlite_messages
from runtime.stores.sqlite import SQLiteStore
from tests.redis_server import RedisServer, fresh_database, start_server


def envelope(n: int) -> Envelope:
    return Envelope("f", "c", "in", n, f"corr-{n}")


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[list[SQLiteStore]]:
    """Two connections to one SQLite file: two processes' stores."""
    opened = [await SQLiteStore.open(tmp_path / "flowmixer.db") for _ in range(2)]
    yield opened
    for store in opened:
        await store.close()


async def test_each_broker_reports_the_depth_of_every_process_together(
    redis_url: str, stores: list[SQLiteStore]
) -> None:
    one = RedisBroker(redis_url, stores[0], visibility_timeout=5)
    other = RedisBroker(redis_url, stores[1], visibility_timeout=5)
    try:
        mine = one.channel("f", "c", maxsize=100)
        await mine.restore()
        theirs = other.channel("f", "c", maxsize=100)
        await theirs.restore()
        for n in range(5):
            await mine.put(envelope(n))
        taken = await asyncio.wait_for(mine.get(), 10)
        await mine.retry_later(taken, 60)  # delayed: still waiting
        parked = await asyncio.wait_for(mine.get(), 10)
        await mine.park(parked, "needs re-authorizing")  # parked: still waiting

        theirs.reported_depth()  # someone reads the depths: they are kept current
        await other._watch.once()

        assert theirs.depth() == 0  # what the other process itself has seen
        assert theirs.reported_depth() == 5
    finally:
        await one.close()
        await other.close()


async def test_a_row_left_in_the_outbox_by_a_crash_is_relayed_while_the_flow_runs(
    redis_url: str, stores: list[SQLiteStore]
) -> None:
    broker = RedisBroker(redis_url, stores[0], visibility_timeout=5)
    try:
        channel = broker.channel("f", "c", maxsize=100)
        await channel.restore()
        # A row another process committed and died before relaying (a minute ago).
        text = codec.encode_envelope(envelope(7))
        left = partial(sqlite_messages.insert, "f", "c", time.time() - 60, text, None)
        await stores[1].with_connection(lambda conn: (left(conn), conn.commit()))

        got = await asyncio.wait_for(channel.get(), 15)  # a sweep every 5 s

        assert got.payload == 7
        assert await stores[1].with_connection(partial(sqlite_messages.load, "f", "c")) == []
    finally:
        await broker.close()


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


async def test_the_broker_says_whether_redis_is_reachable(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    broker = RedisBroker(await fresh_database(own_redis), store, visibility_timeout=5)
    try:
        await broker.channel("f", "c", maxsize=10).restore()
        await broker._watch.once()
        up = broker.servers()
        own_redis.kill()
        with pytest.raises(Exception):  # noqa: B017, PT011 - the client's own connection error
            await broker._watch.once()
        down = broker.servers()
        own_redis.start()
        await broker._watch.once()
        again = broker.servers()
    finally:
        await broker.close()
        await store.close()

    assert (up, down, again) == ({"redis": True}, {"redis": False}, {"redis": True})
