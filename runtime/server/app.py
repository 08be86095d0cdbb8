"""The aiohttp application of ``flowmixer serve`` and the server that runs it.

::

    server = Server(context, host="127.0.0.1", port=0)
    port = await server.start()   # starts the deployed flows whose status is running
    ...
    await server.close()          # stops listening, then stops the flows (status kept)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from runtime.server import admin, admin_accounts, auth_routes, control, health, hooks
from runtime.server.context import CONTEXT
from runtime.server.errors import json_errors
from runtime.server.security import AccessLogger, admin_guard

if TYPE_CHECKING:
    from runtime.server.context import ServerContext


def create_app(ctx: ServerContext) -> web.Application:
    """The application: hooks, health and metrics, the admin API; bodies over 1 MiB get 413."""
    app = web.Application(client_max_size=hooks.MAX_BODY, middlewares=[json_errors, admin_guard])
    app[CONTEXT] = ctx
    hooks.add_routes(app)
    health.add_routes(app)
    admin.add_routes(app)
    admin_accounts.add_routes(app)
    auth_routes.add_routes(app)
    return app


class Server:
    """Listens on ``host``:``port`` (0 picks a free port) and runs the deployed flows."""

    def __init__(self, ctx: ServerContext, *, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Start the flows that should run, then listen; returns the port listened on."""
        started = await control.resume_all(self.ctx)
        runner = web.AppRunner(
            create_app(self.ctx), access_log_class=AccessLogger, handle_signals=False
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
            await self._runner.cleanup()
            self._runner = None
        await self.ctx.engine.close()
