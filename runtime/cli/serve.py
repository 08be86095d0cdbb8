"""``flowmixer serve``: the HTTP server, running the deployed flows until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING

import aiohttp
import structlog

from runtime.auth.secretbox import SecretBox
from runtime.cli.broker_option import add_broker_option, make_broker
from runtime.errors import ConfigurationError
from runtime.registry import Registry
from runtime.server import Server
from runtime.server.assemble import assemble
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    import argparse

    from runtime.settings import Settings

ADMIN_TOKEN_VARIABLE = "FLOWMIXER_ADMIN_TOKEN"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the HTTP server: webhooks, admin API, health and metrics",
        description="Run the deployed flows (those left running start again) with the"
        " durable SQLite broker (messages accepted before a crash are delivered after the"
        " restart) and the SQLite store under $FLOWMIXER_HOME, and answer HTTP:"
        " POST /hooks/FLOW/COMPONENT (webhook events, guarded by each hook's secret),"
        " /api/... (the admin API, with `Authorization: Bearer $FLOWMIXER_ADMIN_TOKEN`; without"
        " that variable it answers 503), GET /healthz and GET /metrics (Prometheus)."
        " SIGINT or SIGTERM stops it gracefully.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="how clients reach this server, for hook URLs and OAuth redirect URIs"
        " (default http://HOST:PORT)",
    )
    add_broker_option(serve, default="sqlite")
    serve.set_defaults(handler=cmd_serve)


def public_url(given: str | None, host: str, port: int) -> str:
    """``given`` checked (http or https, no query) without its trailing slash, or the default."""
    if given is None:
        return f"http://{host}:{port}"
    url = given.rstrip("/")
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise ConfigurationError(
            f"--public-url {given!r}: expected an http:// or https:// URL without query,"
            " e.g. https://flows.example.com"
        )
    return url


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 <= args.port <= 65535:
        raise ConfigurationError(f"--port {args.port}: expected a port from 0 to 65535")
    url = public_url(args.public_url, args.host, args.port)
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "").strip() or None
    asyncio.run(_serve(args.host, args.port, url, token, settings, args.broker))
    return 0


async def _serve(
    host: str, port: int, url: str, token: str | None, settings: Settings, broker_kind: str
) -> None:
    settings.ensure_home()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    logger = structlog.get_logger("flowmixer.server")
    registry = Registry.load()
    box = SecretBox.from_settings(settings)
    async with (
        await SQLiteStore.open(settings.db_path) as store,
        aiohttp.ClientSession() as session,
    ):
        broker = make_broker(broker_kind, store)
        ctx = await assemble(
            store,
            registry,
            box,
            session,
            admin_token=token,
            public_url=url,
            logger=logger,
            broker=broker,
        )
        ctx.max_components = settings.max_components
        if token is None:
            logger.warning("admin API off: it answers 503 until FLOWMIXER_ADMIN_TOKEN is set")
        server = Server(ctx, host=host, port=port)
        try:
            await server.start()
            await stopping.wait()
            logger.info("server stopping")
        finally:
            await server.close()
            await broker.close()  # its last writes, before the store closes
