"""How the server takes webhook events in: the bounded wait for room and idempotency keys.

An ``Idempotency-Key`` names one event per flow and webhook trigger for ``window`` seconds: a
request repeating it is answered with the first event's id and queues nothing. Requests with
the same key are handled one at a time (:meth:`HookIntake.claim`), so a repeat that arrives
while the first is still waiting for room waits for its outcome instead of queuing a second
event; the store refuses a second record of a key as well. Claims belong to the loop that
answers webhooks (the front's, with the engine on a loop of its own): the first claim binds
them to it. How an event is queued from the front is :mod:`runtime.server.front_intake`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import TYPE_CHECKING, Final

from runtime.stores.base import IdempotencyKey

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from runtime.stores.base import HookKeyStore

HOOK_WAIT: Final = 5.0
"""Seconds a webhook event waits for room in a full flow before it is answered 503."""
KEY_WINDOW: Final = 24 * 3600.0
"""Seconds an idempotency key is remembered."""
MAX_KEY_LENGTH: Final = 255
PRUNE_EVERY: Final = 600.0  # seconds between deletions of expired keys


class HookIntake:
    """The server's intake settings (``wait``, ``window``) and the keys being handled now."""

    def __init__(self, *, wait: float = HOOK_WAIT, window: float = KEY_WINDOW) -> None:
        if wait < 0 or window <= 0:
            raise ValueError("the wait must be at least 0 s and the window more than 0 s")
        self.wait = wait
        self.window = window
        self._busy: dict[tuple[str, str, str], asyncio.Future[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the claims belong to
        self._pruned_at = 0.0

    @property
    def retry_after(self) -> int:
        """Whole seconds a refused caller is told to wait (``Retry-After``)."""
        return max(1, math.ceil(self.wait))

    def key(self, value: str) -> IdempotencyKey:
        """``value`` as a key whose window ends now."""
        return IdempotencyKey(value, time.time() - self.window)

    @contextlib.asynccontextmanager
    async def claim(self, flow_id: str, component_id: str, value: str) -> AsyncIterator[None]:
        """Hold the key (flow, trigger, ``value``) while this request handles it."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("idempotency keys are claimed on one event loop only")
        name = (flow_id, component_id, value)
        while (busy := self._busy.get(name)) is not None:
            await asyncio.shield(busy)
        done = loop.create_future()
        self._busy[name] = done
        try:
            yield
        finally:
            del self._busy[name]
            done.set_result(None)

    async def prune(self, store: HookKeyStore) -> None:
        """Forget expired keys, at most every :data:`PRUNE_EVERY` seconds."""
        now = time.time()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await store.prune_hook_keys(now - self.window)
