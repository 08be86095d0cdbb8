"""The entries a Redis channel holds for its consumer: kept fresh, let go, and read in.

A delivered entry stays pending for the consumer that read it. While a handler works on it (or
it waits in the channel's ``ready`` queue) the broker touches it every third of the visibility
timeout, so that no other consumer takes it; a stopping flow lets its entries go at once, so
that another consumer takes them without waiting out the timeout.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.brokers.redis_channel import RedisChannel

BATCH = 500  # entry ids per script call


async def let_go(channel: RedisChannel) -> None:
    """Make the entries held by ``channel`` claimable by any consumer at once."""
    entries = sorted(channel.held_ids)
    channel._ready.clear()
    channel.held_ids.clear()
    link = channel._link
    for start in range(0, len(entries), BATCH):
        args = [channel.group, link.consumer, link.visibility_ms, *entries[start : start + BATCH]]
        await link.script(link.touch, [channel.keys[0]], args)


async def touch(channel: RedisChannel) -> None:
    """Keep the entries held by ``channel`` fresh; drop from its ``ready`` queue those another
    consumer claimed anyway (this one was taken for dead)."""
    entries = sorted(channel.held_ids)
    link = channel._link
    for start in range(0, len(entries), BATCH):
        args = [channel.group, link.consumer, 0, *entries[start : start + BATCH]]
        lost = set(await link.script(link.touch, [channel.keys[0]], args))
        if lost:
            channel._ready = collections.deque(r for r in channel._ready if r[0] not in lost)
            channel.held_ids.difference_update(lost)


async def claim(channel: RedisChannel) -> bool:
    """Take the entries other consumers left idle past the visibility timeout (as many as
    workers wait); whether any."""
    link = channel._link
    reply = await link.client.xautoclaim(
        channel.keys[0],
        channel.group,
        link.consumer,
        link.visibility_ms,
        start_id=channel.claim_from,
        count=max(1, channel._wanting),
    )
    channel.claim_from = reply[0] if reply[0] else "0-0"
    if channel.claim_from != "0-0":
        channel.claim_at = 0.0  # more to look at
    return channel.take_in(reply[1], read=False)


def streams(reply: Any) -> list[tuple[str, Any]]:
    """The ``(stream, entries)`` of an ``XREADGROUP`` reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [(name, entries[0]) for name, entries in reply.items()]
    return [(name, entries) for name, entries in reply]
