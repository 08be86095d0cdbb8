"""The control channel of a scale-out: short notices on a Redis pub/sub channel.

An API process writes a flow's wanted state in the database first, then publishes a notice
(``{"flow": ID, "action": ...}``) on :data:`CHANNEL`; every process listening reconciles that
flow from the database (:mod:`runtime.server.reconcile`). A notice carries no truth: one lost
(a listener reconnecting, Redis restarting) is repaired by the periodic reconcile.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog
from structlog.typing import FilteringBoundLogger

from runtime.errors import ConfigurationError

CHANNEL: Final = "flowmixer:control"
ACTIONS: Final = frozenset(
    {"deploy", "start", "stop", "pause", "resume", "delete", "retry", "reauthorize"}
)
RECONNECT: Final = (0.1, 5.0)  # the first and the longest wait before listening again

Listener = Callable[[str, str], Awaitable[None]]
"""Called with ``(flow_id, action)`` for each notice heard."""


class ControlNotices:
    """Publishes and hears the notices of :data:`CHANNEL` on the Redis server at ``url``."""

    def __init__(self, url: str, *, logger: FilteringBoundLogger | None = None) -> None:
        try:
            import redis.asyncio as redis
        except ImportError as exc:  # pragma: no cover - the extra is part of [test]
            raise ConfigurationError(
                "the control channel needs the redis client: pip install 'flowmixer[redis]'"
            ) from exc
        self._client: Any = redis.Redis.from_url(url, decode_responses=True)
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.control")
        self.heard = asyncio.Event()  # set once a subscription is confirmed (for tests)

    async def publish(self, flow_id: str, action: str) -> bool:
        """Tell every listener to reconcile ``flow_id``; False (logged) when Redis did not take
        it: the truth is in the database already, the periodic reconcile carries it."""
        text = json.dumps({"flow": flow_id, "action": action}, separators=(",", ":"))
        try:
            await self._client.publish(CHANNEL, text)
        except Exception as exc:
            self._logger.warning(
                "control notice not sent", flow_id=flow_id, action=action, error=type(exc).__name__
            )
            return False
        return True

    async def ping(self) -> bool:
        """Whether the Redis server answers."""
        try:
            return bool(await self._client.ping())
        except Exception:
            return False

    async def listen(
        self, on_notice: Listener, *, on_subscribed: Callable[[], Awaitable[object]]
    ) -> None:
        """Hear notices until cancelled, subscribing again after a lost connection;
        ``on_subscribed`` runs after every (re)subscription (notices may have been missed)."""
        wait = RECONNECT[0]
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.heard.set()
                    wait = RECONNECT[0]
                    await on_subscribed()
                    async for message in pubsub.listen():
                        await self._hear(message, on_notice)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.heard.clear()
                self._logger.warning(
                    "control channel lost", error=type(exc).__name__, retry_in=wait
                )
                await asyncio.sleep(wait * (0.5 + random.random() / 2))
                wait = min(RECONNECT[1], wait * 2)

    async def _hear(self, message: Any, on_notice: Listener) -> None:
        if message.get("type") != "message":
            return
        try:
            notice = json.loads(message["data"])
            flow_id, action = str(notice["flow"]), str(notice["action"])
        except (ValueError, KeyError, TypeError):
            self._logger.warning("control notice ignored: not {flow, action} JSON")
            return
        await on_notice(flow_id, action)

    async def aclose(self) -> None:
        await self._client.aclose()
