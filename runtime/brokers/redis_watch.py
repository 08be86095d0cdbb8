"""The Redis broker's upkeep, once a second: is the server reachable, how deep is each queue
across the whole cluster, and (every :data:`SWEEP_EVERY`) the outbox's sweep.

The depths are read from Redis (stream entries, taken or not, plus delayed retries and parked
messages of each component) in one pipelined round trip, only while someone reads them
(``/metrics`` or the admin API within the last :data:`WANTED_FOR` seconds): a server of
thousands of flows nobody scrapes does not pay for them.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from runtime.brokers.redis_channel import RedisChannel
    from runtime.brokers.redis_link import Link
    from runtime.brokers.redis_outbox import Outbox

EVERY = 1.0  # seconds between looks
SWEEP_EVERY = 5.0  # seconds between sweeps of the outbox
WANTED_FOR = 60.0  # seconds the depths are kept current after someone read them


class Watch:
    """The upkeep of one broker's ``link``: :meth:`forever` runs it until cancelled."""

    def __init__(
        self,
        link: Link,
        outbox: Outbox,
        channels: Callable[[], Collection[RedisChannel]],
    ) -> None:
        self._link = link
        self._outbox = outbox
        self._channels = channels
        self._swept_at = time.monotonic()

    async def forever(self) -> None:
        while True:
            await asyncio.sleep(EVERY)
            try:
                await self.once()
            except Exception as exc:
                if not self._link.gone(exc):
                    self._link.logger.warning(
                        "the Redis broker's upkeep failed", error=f"{type(exc).__name__}: {exc}"
                    )

    async def once(self) -> None:
        """One look: reachability, then the depths (if wanted) and the sweep (if due)."""
        link = self._link
        try:
            await link.client.ping()
        except Exception as exc:
            if link.gone(exc):
                link.reachable = False
            raise
        link.reachable = True
        channels = list(self._channels())
        now = time.monotonic()
        if channels and now - link.depths_wanted_at < WANTED_FOR:
            await self.count(channels)
        if now - self._swept_at >= SWEEP_EVERY:
            self._swept_at = now
            started = [(c.flow_id, c.component_id) for c in channels if c.restored]
            if started:
                await self._outbox.sweep(started)

    async def count(self, channels: list[RedisChannel]) -> None:
        """Read each channel's depth across the cluster into ``channel.cluster_depth``."""
        async with self._link.client.pipeline(transaction=False) as pipe:
            for channel in channels:
                stream, delayed, parked, _ = channel.keys
                pipe.xlen(stream)
                pipe.zcard(delayed)
                pipe.hlen(parked)
            counts = await pipe.execute()
        for n, channel in enumerate(channels):
            channel.cluster_depth = sum(int(c) for c in counts[3 * n : 3 * n + 3])
