"""``flowmixer worker``: a worker process of a scale-out, running flows and no HTTP API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from runtime.auth.secretbox import SecretBox
from runtime.cli.bind_check import BIND_ERRORS, bind_error, check_port
from runtime.cli.engine_parts import EngineParts, PartsOptions, check_scale_out
from runtime.cli.loading import load_registry
from runtime.cli.serve import QUEUE_VARIABLE, _number
from runtime.cli.usage import StopSignals
from runtime.engine import QUEUE_SIZE
from runtime.errors import ConfigurationError
from runtime.event_loop import run
from runtime.server import health
from runtime.server.bridge import BRIDGE, Bridge
from runtime.server.context import CONTEXT
from runtime.server.errors import json_errors
from runtime.stores.urls import opened_store

if TYPE_CHECKING:
    import argparse

    from runtime.server.context import ServerContext
    from runtime.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the deployed flows of a scale-out (no HTTP API)",
        description="Run, on the Redis Streams broker, every deployed flow whose wanted state"
        " in the PostgreSQL database is running, and follow that state: API processes"
        " (`flowmixer serve --no-workers`) announce each change on Redis, and every flow is"
        " checked again every 10 s. Needs --redis and a postgresql:// --database. Any number"
        " of workers may run, on any machines. SIGINT or SIGTERM stops it gracefully.",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="answer GET /metrics and GET /healthz on PORT (default: no HTTP listener)",
    )
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address of --metrics-port (default 127.0.0.1)",
    )
    worker.add_argument(
        "--queue-size",
        metavar="N",
        help="the bound of each component's queue, counting queued, delayed and parked"
        f" messages ({QUEUE_VARIABLE}; default {QUEUE_SIZE})",
    )
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    check_scale_out(settings, "flowmixer worker")
    port = args.metrics_port
    if port is not None:
        if not 0 <= port <= 65535:
            raise ConfigurationError(f"--metrics-port {port}: expected a port from 0 to 65535")
        check_port(args.metrics_host, port)
    size = _number(args.queue_size, "--queue-size", QUEUE_VARIABLE, QUEUE_SIZE, least=1)
    if size != int(size):
        raise ConfigurationError(f"--queue-size {args.queue_size!r}: expected a whole number")
    options = PartsOptions(role="worker", queue_size=int(size))
    return run(_work(settings, options, args.metrics_host, port))


async def _work(settings: Settings, options: PartsOptions, host: str, port: int | None) -> int:
    """Run flows until SIGINT or SIGTERM; the exit code (130 after Ctrl-C, 0 after SIGTERM)."""
    settings.ensure_home()
    stop = StopSignals()
    stop.install()
    logger = structlog.get_logger("flowmixer.worker")
    registry = load_registry()
    box = SecretBox.from_settings(settings)
    async with opened_store(settings.database) as store:
        parts = EngineParts(store, registry, box, settings, options, logger)
        try:
            ctx = await parts.open()
            assert ctx.reconciler is not None
            started = await ctx.reconciler.reconcile_all()
            runner = await _listen(ctx, host, port) if port is not None else None
            logger.info("worker running", process=ctx.engine.owner, flows_running=started)
            try:
                await stop.event.wait()
                logger.info("worker stopping")
            finally:
                if runner is not None:
                    await runner.cleanup()
                await parts.quiet()
                await ctx.engine.close()
        finally:
            await parts.close()
    return stop.exit_code()


async def _listen(ctx: ServerContext, host: str, port: int) -> web.AppRunner:
    """``/metrics`` and ``/healthz`` on ``host``:``port``."""
    app = web.Application(middlewares=[json_errors])
    app[CONTEXT] = ctx
    app[BRIDGE] = Bridge()
    health.add_routes(app)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno not in BIND_ERRORS:
            raise
        raise bind_error(exc, host, port) from None
    logger = ctx.logger
    logger.info("metrics listening", host=host, port=int(runner.addresses[0][1]))
    return runner
