"""Serving an application on a loopback address, and stopping it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from aiohttp import web

from runtime.errors import ConfigurationError

LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")


class Server:
    """One running HTTP server; the emulator only listens on loopback addresses."""

    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        self.base = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port); answers the base URL."""
        if host not in LOOPBACK:
            raise ConfigurationError(
                f"the emulator listens only on a loopback address ({', '.join(LOOPBACK)});"
                f" {host!r} is not one"
            )
        if host == "localhost":
            host = "127.0.0.1"
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigurationError(
                f"the emulator cannot listen on {host}:{port} ({exc.strerror or exc})"
            ) from None
        bound = self._runner.addresses[0][1]
        self.base = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
        return self.base

    async def stop(self) -> None:
        await self._runner.cleanup()


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    server = Server(app)
    base = await server.start(host, port)
    try:
        yield base
    finally:
        await server.stop()
