"""The aiohttp application of ``flowmixer serve`` and the server that runs it.

::

    server = Server(context, host="127.0.0.1", port=0)
    port = await server.start()   # starts the deployed flows whose status is running
    ...
    await server.close()          # stops listening, then stops the flows (status kept)

``flowmixer serve`` gives the server a :class:`~runtime.server.bridge.Bridge` to the engine's
own loop: route handlers then run there, except health, metrics and webhooks, which stay on
this (the front's) loop; the engine's parts must then have been made on that loop.

Slow clients do not hold connections: a request's headers must be complete within
``header_timeout`` seconds of the connection opening or of the previous response (else the
connection is closed), and its body within ``body_timeout`` seconds once a route reads it
(else 408, then the connection is closed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from runtime.server import admin, admin_accounts, auth_routes, control, health, hooks
from runtime.server.bodies import BODY_DEADLINE, BODY_TIMEOUT
from runtime.server.bridge import BRIDGE, Bridge, to_engine_loop
from runtime.server.context import CONTEXT
from runtime.server.errors import json_errors
from runtime.server.front_intake import INTAKE, FrontIntake
from runtime.server.security import AccessLogger, admin_guard

if TYPE_CHECKING:
    from runtime.server.context import ServerContext

HEADER_TIMEOUT: Final = 10.0


def create_app(
    ctx: ServerContext, bridge: Bridge | None = None, *, body_timeout: float = BODY_TIMEOUT
) -> web.Application:
    """The application: hooks, health and metrics, the admin API; bodies over 1 MiB get 413,
    bodies not sent within ``body_timeout`` seconds 408.

    With a ``bridge`` that crosses to the engine's loop, webhook events are queued from this
    loop (``app[INTAKE]``, to close before the store) and the other routes run on the engine's.
    """
    bridge = bridge or Bridge()
    app = web.Application(
        client_max_size=hooks.MAX_BODY, middlewares=[json_errors, admin_guard, to_engine_loop]
    )
    app[CONTEXT] = ctx
    app[BRIDGE] = bridge
    app[BODY_DEADLINE] = body_timeout
    if bridge.crosses and FrontIntake.takes(ctx.engine.broker):
        app[INTAKE] = FrontIntake(ctx.engine, ctx.logger)
    hooks.add_routes(app)
    health.add_routes(app)
    admin.add_routes(app)
    admin_accounts.add_routes(app)
    auth_routes.add_routes(app)
    return app


class Server:
    """Listens on ``host``:``port`` (0 picks a free port) and runs the deployed flows.

    ``bridge`` leads to the engine's own loop (default: the engine runs on this one).
    """

    def __init__(
        self,
        ctx: ServerContext,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        bridge: Bridge | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.bridge = bridge or Bridge()
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Start the flows that should run, then listen; returns the port listened on."""
        started = await self.bridge.call(control.resume_all(self.ctx))
        runner = web.AppRunner(
            create_app(self.ctx, self.bridge, body_timeout=self.body_timeout),
            access_log_class=AccessLogger,
            handle_signals=False,
            # aiohttp's keep-alive timer runs from the connection's start and from each
            # response until the next request's headers are parsed, whatever bytes trickle
            # in meanwhile: it is the header deadline (and the idle keep-alive limit).
            keepalive_timeout=self.header_timeout,
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = int(runner.addresses[0][1])
        if not self.ctx.public_url:
            self.ctx.public_url = f"http://{self.host}:{self.port}"
        self.ctx.logger.info(
            "server listening",
            host=self.host,
            port=self.port,
            flows_running=started,
            admin_api="on" if self.ctx.admin_token else "off (FLOWMIXER_ADMIN_TOKEN unset)",
        )
        return self.port

    async def close(self) -> None:
        """Stop listening (requests in progress finish), then stop every flow gracefully."""
        if self._runner is not None:
            intake = self._runner.app.get(INTAKE)
            await self._runner.cleanup()
            self._runner = None
            if intake is not None:
                await intake.close()
        await self.bridge.call(self.ctx.engine.close())
