"""Round trips the Redis channel saves without giving up a promise: a put refused at the bound
answers the count it saw (the waiting putter needs no look of its own), and a settlement
brings the settling worker's next message (it needs no read of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.brokers import redis_scripts as scripts
from runtime.brokers.redis import RedisBroker
from runtime.envelope import Envelope
from runtime.stores import codec
from runtime.stores.sqlite import SQLiteStore


@pytest.fixture
async def broker(redis_url: str, tmp_path: Path) -> AsyncIterator[RedisBroker]:
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    broker = RedisBroker(redis_url, store, visibility_timeout=1.0)
    yield broker
    await broker.close()
    await store.close()


@pytest.mark.parametrize("reserved", [0, 2], ids=["nothing reserved", "two places reserved"])
async def test_a_put_refused_at_the_bound_answers_the_count_redis_holds(
    broker: RedisBroker, reserved: int
) -> None:
    channel = broker.channel("f", "c", maxsize=4)
    await channel.restore()
    for n in range(4 - reserved):
        await channel.put(Envelope("f", "c", "in", n, f"corr-{n}"))
    refused = Envelope("f", "c", "in", 99, "corr-99")
    link = channel._link
    keys = [*channel.keys[:3], scripts.sent_key("f", refused.id)]
    args = [channel.group, reserved, codec.encode_envelope(refused), scripts.PUT_TTL, 4]
    answer = await link.script(link.put_script, keys, args)
    assert answer == 4 - reserved
    assert await link.client.xlen(channel.keys[0]) == 4 - reserved
    assert not await link.client.exists(keys[3])  # not marked sent: a later try publishes it


async def xreadgroup_calls(broker: RedisBroker) -> int:
    stats = await broker._link.client.info("commandstats")
    return int(stats.get("cmdstat_xreadgroup", {}).get("calls", 0))


async def test_an_acknowledgement_brings_the_next_message_without_a_read_of_its_own(
    broker: RedisBroker,
) -> None:
    channel = broker.channel("f", "c", maxsize=10)
    await channel.restore()
    for n in range(3):
        await channel.put(Envelope("f", "c", "in", n, f"corr-{n}"))
    first = await asyncio.wait_for(channel.get(), 10)
    got = [first.payload]
    reads = await xreadgroup_calls(broker)
    await channel.ack(first)  # settles, and reads the next message in the same script
    for _ in range(2):
        item = channel.get_nowait()
        assert item is not None, "the next message came with the acknowledgement"
        got.append(item.payload)
        await channel.ack(item)
    # Scripts' own reads are counted too: one per acknowledgement (the last found none), and
    # no read was sent by itself.
    assert await xreadgroup_calls(broker) == reads + 3
    assert sorted(got) == [0, 1, 2]
    assert await broker._link.client.xlen(channel.keys[0]) == 0
