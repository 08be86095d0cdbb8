"""The Redis Streams broker: the work of many processes, on one Redis server.

A stream per component input, a consumer group per component, one consumer per broker
(``host:pid:random``); the keys are described in :mod:`runtime.brokers.redis_scripts`, the
reading in :mod:`runtime.brokers.redis_channel`. The promises of the durable brokers hold:

- a ``put`` returns once Redis has the message (with an append-only file, as a restarted
  server keeps it); nothing is trimmed: a full channel makes publishers wait;
- a delivered message stays pending for its consumer until it is settled; the handler's sends
  and the settlement are one script (:mod:`runtime.brokers.redis_hop`), so a crash neither
  loses nor repeats a hop;
- a live consumer touches its pending entries every third of the visibility timeout; those of
  a consumer that died go idle and are claimed (``XAUTOCLAIM``) by any other once idle past it,
  with the attempt count they had; a stopping flow lets its entries go at once;
- delayed retries (a sorted set) and parked messages (a hash) live in Redis too, so they
  survive any process; a dead letter passes through a ``burying`` hash on its way to the store,
  so a crash leaves it either still a message or a letter (finished at the next start);
- a tick's state and messages, and a webhook event and its idempotency key, are written in
  the store in one transaction, then relayed into Redis (:mod:`runtime.brokers.redis_outbox`):
  Redis and the database share no transaction, so the store is the outbox.

It needs a store with a database (SQLite or PostgreSQL: the dead letters, the effects ledger
and the outbox); the Redis client is the optional extra ``flowmixer[redis]``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from runtime.brokers import redis_scripts as scripts
from runtime.brokers.base import Broker, Channel
from runtime.brokers.redis_channel import RedisChannel
from runtime.brokers.redis_link import Link
from runtime.brokers.redis_outbox import Outbox
from runtime.brokers.redis_watch import Watch
from runtime.errors import ConfigurationError
from runtime.settings import REDIS_VISIBILITY
from runtime.stores import codec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Sequence

    from structlog.typing import FilteringBoundLogger

    from runtime.brokers.base import StateWrite
    from runtime.envelope import Envelope
    from runtime.stores.leases import Lease

VISIBILITY_TIMEOUT = REDIS_VISIBILITY  # FLOWMIXER_REDIS_VISIBILITY


class RedisBroker(Broker):
    """Durable channels on the Redis server at ``url``, shared by every process using it.

    ``store`` keeps the dead letters, the effects ledger and the outbox; close the broker
    before it. ``visibility_timeout`` is how long (seconds) a delivered message may go without
    a sign of life from its consumer before another consumer takes it.
    """

    durable = True
    shared = True  # other processes consume the same streams: a flow's own count is no measure

    def __init__(
        self,
        url: str,
        store: object,
        *,
        visibility_timeout: float = VISIBILITY_TIMEOUT,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        if visibility_timeout <= 0:
            raise ValueError("visibility_timeout must be positive")
        try:
            import redis.asyncio as redis
        except ImportError as exc:  # pragma: no cover - the extra is part of [test]
            raise ConfigurationError(
                "the Redis broker needs the redis client: pip install 'flowmixer[redis]'"
            ) from exc
        self.store = store
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.broker")
        client = redis.Redis.from_url(url, decode_responses=True)
        self._link = Link(client, visibility_timeout=visibility_timeout, logger=self._logger)
        self._outbox = Outbox(store, self._relay, self._logger)
        self._channels: dict[tuple[str, str], RedisChannel] = {}
        self._toucher: asyncio.Task[None] | None = None
        self._watch = Watch(self._link, self._outbox, self._channels.values)
        self._watching: asyncio.Task[None] | None = None

    @property
    def consumer(self) -> str:
        """This broker's consumer name in every group."""
        return self._link.consumer

    async def _relay(self, *, keys: list[str], args: list[object]) -> object:
        return await self._link.script(self._link.relay, keys, list(args))

    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> RedisChannel:
        key = (flow_id, component_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = RedisChannel(
                self._link, self._outbox, self.store, flow_id, component_id, maxsize
            )
            self._channels[key] = channel
            if self._toucher is None:
                self._toucher = asyncio.get_running_loop().create_task(
                    self._touch_forever(), name="flowmixer:broker:touch"
                )
            if self._watching is None:
                self._watching = asyncio.get_running_loop().create_task(
                    self._watch.forever(), name="flowmixer:broker:watch"
                )
        return channel

    def release(self, flow_id: str) -> None:
        for key in [k for k in self._channels if k[0] == flow_id]:
            channel = self._channels.pop(key)
            self._link.spawn(channel.let_go(), "flowmixer:redis:let-go")

    async def delete_flow(self, flow_id: str) -> int:
        client = self._link.client
        keys = [key async for key in client.scan_iter(match=scripts.flow_pattern(flow_id))]
        count = 0
        for key in keys:
            if key.endswith(":stream"):
                count += int(await client.xlen(key))
            elif key.endswith(":delayed"):
                count += int(await client.zcard(key))
            elif key.endswith(":parked"):
                count += int(await client.hlen(key))
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        return count

    async def take_strays(
        self,
        flow_id: str,
        components: Collection[str],
        keep: Callable[[Envelope], Awaitable[None]],
    ) -> int:
        client = self._link.client
        tag = scripts.flow_tag(flow_id)
        strays: set[str] = set()
        async for key in client.scan_iter(match=scripts.flow_pattern(flow_id)):
            component, _, kind = key[len(tag) :].rpartition(":")
            if kind in ("stream", "delayed", "parked") and component not in components:
                strays.add(component)
        count = 0
        for component in sorted(strays):
            stream, delayed, parked, _ = scripts.channel_keys(flow_id, component)
            entries: Any = await client.xrange(stream)
            texts: list[str] = [fields[scripts.ENTRY_FIELD] for _, fields in entries]
            texts += [str(text) for text in await client.zrange(delayed, 0, -1)]
            for record in await client.hvals(parked):
                texts.append(codec.decode(str(record))["envelope"])
            for text in texts:
                await keep(codec.decode_envelope(text))
            await client.delete(stream, delayed, parked)
            count += len(texts)
        return count

    def atomic_with(self, store: object) -> bool:
        return store is self.store

    async def commit_unit(
        self,
        writes: Sequence[StateWrite],
        sends: Sequence[tuple[Channel, Envelope]],
        *,
        lease: Lease | None = None,
    ) -> None:
        targets: list[RedisChannel] = []
        for channel, _ in sends:
            if not isinstance(channel, RedisChannel) or channel._link is not self._link:
                raise TypeError(f"{channel!r} is not a channel of this broker")
            targets.append(channel)
        rows = [(envelope.flow_id, envelope.component_id, envelope) for _, envelope in sends]
        await self._outbox.commit_unit(writes, rows, lease)
        for channel in targets:
            channel._held += 1
            channel._depth += 1

    async def _touch_forever(self) -> None:
        interval = self._link.visibility_ms / 3000
        while True:
            await asyncio.sleep(interval)
            for channel in list(self._channels.values()):
                if not channel.held_ids:
                    continue
                try:
                    await channel.touch()
                except Exception as exc:  # Redis may be back at the next touch
                    self._logger.warning(
                        "could not keep messages in hand", error=f"{type(exc).__name__}: {exc}"
                    )

    def servers(self) -> dict[str, bool]:
        return {"redis": self._link.reachable}

    async def close(self) -> None:
        for task in (self._toucher, self._watching):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._toucher = self._watching = None
        for key in list(self._channels):
            self.release(key[0])
        await self._link.settle()
        self._link.closing = True
        await self._outbox.close()
        await self._link.client.aclose()
