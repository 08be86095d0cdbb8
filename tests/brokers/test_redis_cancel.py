"""A cancel of a task waiting on the Redis broker ends it: a worker's stop always finishes.

redis-py may answer a read that a cancel interrupted with a connection error, or (rarely) let
the read end normally; either way the cancel is still pending on the task and must win over
waiting out a "lost" server or reading again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.exceptions

from runtime.brokers.redis import RedisBroker
from runtime.brokers.redis_channel import RedisChannel
from runtime.stores.sqlite import SQLiteStore

PROMPTLY = 5.0  # seconds; a read blocks at most 1 s, so a stuck task shows as a miss of this


@pytest.fixture
async def channel(redis_url: str, tmp_path: Path) -> AsyncIterator[RedisChannel]:
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    broker = RedisBroker(redis_url, store, visibility_timeout=1.0)
    opened = broker.channel("f", "c", maxsize=100)
    await opened.restore()
    yield opened
    await broker.close()
    await store.close()


async def test_a_get_blocked_in_a_stream_read_ends_with_cancelled_error_whenever_cancelled(
    channel: RedisChannel,
) -> None:
    # The race is between the cancel and the client's read: cancel at many points of it.
    stuck = []
    for n in range(300):
        getting = asyncio.create_task(channel.get())
        await asyncio.sleep(n % 30 / 1000)
        getting.cancel()
        done, _ = await asyncio.wait([getting], timeout=PROMPTLY)
        if not done or not getting.cancelled():
            stuck.append(n)
            getting.cancel()
            break  # a stuck getter holds the read lock: the next ones would wait on it
    assert stuck == [], f"a cancelled get went on reading (cancel #{stuck})"


async def test_a_cancelled_read_answered_as_a_lost_connection_is_not_retried(
    channel: RedisChannel,
) -> None:
    link = channel._link
    reads = 0
    reading_started = asyncio.Event()

    async def read() -> object:
        nonlocal reads
        reads += 1
        reading_started.set()
        try:
            return await link.client.xreadgroup(
                channel.group, link.consumer, {channel.keys[0]: ">"}, block=10_000
            )
        except asyncio.CancelledError:
            # What redis-py may raise when a cancel closes the connection under a read.
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None

    await channel._make_group()
    reading = asyncio.create_task(link.run(read))
    await reading_started.wait()
    await asyncio.sleep(0.05)  # now blocked in XREADGROUP ... BLOCK
    reading.cancel()
    done, _ = await asyncio.wait([reading], timeout=PROMPTLY)
    assert done, "Link.run waited out the server instead of ending"
    assert reading.cancelled()
    assert reads == 1
