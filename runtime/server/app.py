"""The aiohttp application of ``flowmixer serve`` and the server that runs it.

::

    server = Server(context, host="127.0.0.1", port=0)
    port = await server.start()   # starts the deployed flows whose status is running
    ...
    await server.close()          # stops listening, then stops the flows (status kept)

``flowmixer serve`` gives the server a :class:`~runtime.server.bridge.Bridge` to the engine's
own loop: route handlers then run there, except health, metrics and webhooks, which stay on
this (the front's) loop; the engine's parts must then have been made on that loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from runtime.server import admin, admin_accounts, auth_routes, control, health, hooks
from runtime.server.bridge import BRIDGE, Bridge, to_engine_loop
from runtime.server.context import CONTEXT
from runtime.server.errors import json_errors
from runtime.server.intake import INTAKE, FrontIntake
from runtime.server.security import AccessLogger, admin_guard

if TYPE_CHECKING:
    from runtime.server.context import ServerContext


def create_app(ctx: ServerContext, bridge: Bridge | None = None) -> web.Application:
    """The application: hooks, health and metrics, the admin API; bodies over 1 MiB get 413.

    With a ``bridge`` that crosses to the engine's loop, webhook events are queued from this
    loop (``app[INTAKE]``, to close before the store) and the other routes run on the engine's.
    """
    bridge = bridge or Bridge()
    app = web.Application(
        client_max_size=hooks.MAX_BODY, middlewares=[json_errors, admin_guard, to_engine_loop]
    )
    app[CONTEXT] = ctx
    app[BRIDGE] = bridge
    if bridge.crosses:
        app[INTAKE] = FrontIntake(ctx.engine, bridge, ctx.logger)
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
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.bridge = bridge or Bridge()
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Start the flows that should run, then listen; returns the port listened on."""
        started = await self.bridge.call(control.resume_all(self.ctx))
        app = create_app(self.ctx, self.bridge)
        runner = web.AppRunner(app, access_log_class=AccessLogger, handle_signals=False)
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
