"""A put at the bound of a Redis channel: refused in the same script that counts, which answers
the count it saw, so the waiting putter needs no look of its own."""

from __future__ import annotations

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
