"""Where a request is handled: the front's loop, or the engine's loop on its own thread.

``flowmixer serve`` runs the engine (flows, broker, quotas, credentials, the components'
HTTP session) on an event loop of its own thread, and the HTTP server on the main thread's
loop, so a component that blocks its loop cannot stall ``/healthz``, ``/metrics`` or the
webhooks. Route handlers run on the engine's loop (:func:`to_engine_loop`), except those marked
:func:`on_front`, which read only what is safe from another thread. Embedded in one loop (the
tests), the :class:`Bridge` has no engine loop and every call is direct.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from runtime.server.bodies import read_body

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from aiohttp.typedefs import Handler

T = TypeVar("T")
H = TypeVar("H")

_FRONT = "_flowmixer_on_front"


class Bridge:
    """Runs coroutines on ``engine_loop`` from the front's loop (``None``: the same loop)."""

    def __init__(self, engine_loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.engine_loop = engine_loop

    @property
    def crosses(self) -> bool:
        """Whether the engine has a loop of its own."""
        return self.engine_loop is not None

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """``await work`` on the engine's loop; cancelling the caller cancels it there too."""
        loop = self.engine_loop
        if loop is None or loop is asyncio.get_running_loop():
            return await work
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))


BRIDGE: web.AppKey[Bridge] = web.AppKey("flowmixer_bridge", Bridge)


def on_front(handler: H) -> H:
    """Mark a route handler to run on the front's loop, never waiting for the engine's."""
    setattr(handler, _FRONT, True)
    return handler


@web.middleware
async def to_engine_loop(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the route's handler on the engine's loop, its body read first on the front's
    (within the body deadline, :func:`~runtime.server.bodies.read_body`).

    aiohttp keeps the body ``read()`` returns, so the handler's own ``read()``/``json()`` on
    the other loop does no I/O; the response it returns is sent from the front's loop.
    """
    bridge = request.app[BRIDGE]
    route = request.match_info
    if (
        not bridge.crosses
        or route.http_exception is not None
        or getattr(route.handler, _FRONT, False)
    ):
        return await handler(request)
    await read_body(request)

    async def handle() -> web.StreamResponse:
        return await handler(request)

    return await bridge.call(handle())
