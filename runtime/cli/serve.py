"""``flowmixer serve``: the HTTP server, running the deployed flows until stopped."""

from __future__ import annotations

import asyncio
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from runtime.auth.secretbox import SecretBox
from runtime.cli.bind_check import BIND_ERRORS, bind_error, check_port
from runtime.cli.broker_option import add_broker_option
from runtime.cli.engine_parts import EngineParts, PartsOptions, check_scale_out
from runtime.cli.loading import load_registry
from runtime.cli.usage import StopSignals
from runtime.engine import QUEUE_SIZE
from runtime.errors import ConfigurationError
from runtime.event_loop import run
from runtime.server import Server
from runtime.server.bridge import Bridge
from runtime.server.engine_loop import EngineLoop
from runtime.server.intake import HOOK_WAIT, KEY_WINDOW, HookIntake
from runtime.stores.urls import join_loop, leave_loop, opened_store

if TYPE_CHECKING:
    import argparse

    from runtime.settings import Settings

ADMIN_TOKEN_VARIABLE = "FLOWMIXER_ADMIN_TOKEN"
QUEUE_VARIABLE = "FLOWMIXER_QUEUE_SIZE"
WAIT_VARIABLE = "FLOWMIXER_HOOK_WAIT"
WINDOW_VARIABLE = "FLOWMIXER_IDEMPOTENCY_WINDOW"


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
        " SIGINT or SIGTERM stops it gracefully. The flows run on an event loop of their own"
        " thread, so a component that blocks cannot stall health checks or webhooks.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="how clients reach this server, for hook URLs and OAuth redirect URIs"
        " (default http://HOST:PORT)",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help="close a connection whose request headers are not all sent within SECONDS of its"
        " start or of the previous answer (default $FLOWMIXER_HEADER_TIMEOUT, else 10)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        help="answer 408 and close the connection when a request body is not all sent within"
        " SECONDS (default $FLOWMIXER_BODY_TIMEOUT, else 30)",
    )
    add_broker_option(serve, default="sqlite")
    serve.add_argument(
        "--queue-size",
        metavar="N",
        help="the bound of each component's queue, counting queued, delayed and parked"
        f" messages ({QUEUE_VARIABLE}; default {QUEUE_SIZE})",
    )
    serve.add_argument(
        "--hook-wait",
        metavar="SECONDS",
        help="how long a webhook event waits for room in a full flow before it is answered 503"
        f" ({WAIT_VARIABLE}; default {HOOK_WAIT:g})",
    )
    serve.add_argument(
        "--idempotency-window",
        metavar="SECONDS",
        help="how long a webhook's Idempotency-Key names its first event"
        f" ({WINDOW_VARIABLE}; default {KEY_WINDOW:g}, a day)",
    )
    serve.add_argument(
        "--single-loop",
        action="store_true",
        help="run the flows on the HTTP server's event loop instead of their own thread (for"
        " debugging: a component that blocks then stalls every request)",
    )
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="answer HTTP only (webhooks, admin API, OAuth): no component runs here; flows run"
        " on `flowmixer worker` processes. Needs --redis and a postgresql:// --database",
    )
    serve.set_defaults(handler=cmd_serve)


def _number(
    given: str | None, option: str, variable: str, default: float, *, least: float
) -> float:
    """The option's value, else the variable's, else ``default``; refused below ``least``."""
    text, source = (given, option) if given is not None else (os.environ.get(variable), variable)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= least or math.isinf(value):
        raise ConfigurationError(f"{source} is {text!r}; expected a number of at least {least:g}")
    return value


def intake_settings(args: argparse.Namespace) -> tuple[int, HookIntake]:
    """The queue size and the hook intake from the options (or their variables)."""
    size = _number(args.queue_size, "--queue-size", QUEUE_VARIABLE, QUEUE_SIZE, least=1)
    if size != int(size):
        raise ConfigurationError(f"--queue-size {args.queue_size!r}: expected a whole number")
    wait = _number(args.hook_wait, "--hook-wait", WAIT_VARIABLE, HOOK_WAIT, least=0)
    window = _number(
        args.idempotency_window, "--idempotency-window", WINDOW_VARIABLE, KEY_WINDOW, least=1
    )
    return int(size), HookIntake(wait=wait, window=window)


def public_url(given: str | None, host: str, port: int) -> str:
    """``given`` checked (http or https, no query) without its trailing slash, or the default
    (empty for port 0: the server sets it once it knows the port it listens on)."""
    if given is None:
        return f"http://{host}:{port}" if port else ""
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
    timeouts = (
        _timeout("--header-timeout", args.header_timeout, settings.header_timeout),
        _timeout("--body-timeout", args.body_timeout, settings.body_timeout),
    )
    queue_size, intake = intake_settings(args)
    if args.no_workers:
        check_scale_out(settings, "--no-workers")
    check_port(args.host, args.port)  # before any flow starts
    options = _Options(
        args.host,
        args.port,
        url,
        token,
        args.broker,
        timeouts,
        queue_size,
        intake,
        "api" if args.no_workers else "all",
    )
    return run(_serve(options, settings, single_loop=args.single_loop))


def _timeout(flag: str, given: float | None, default: float) -> float:
    if given is None:
        return default
    if not 0 < given <= 86400:
        raise ConfigurationError(f"{flag} {given:g}: expected seconds above 0 and at most 86400")
    return given


@dataclass(frozen=True)
class _Options:
    """What ``flowmixer serve`` was asked for, checked."""

    host: str
    port: int
    url: str
    token: str | None
    broker_kind: str
    timeouts: tuple[float, float]  # the header and the body deadlines
    queue_size: int
    intake: HookIntake
    role: str = "all"  # "api" with --no-workers


async def _serve(options: _Options, settings: Settings, *, single_loop: bool) -> int:
    """Serve until SIGINT or SIGTERM; the exit code (130 after Ctrl-C, 0 after SIGTERM)."""
    settings.ensure_home()
    stop = StopSignals()
    stop.install()
    logger = structlog.get_logger("flowmixer.server")
    registry = load_registry()
    box = SecretBox.from_settings(settings)
    async with opened_store(settings.database) as store:
        engine_loop = None if single_loop else EngineLoop()
        bridge = Bridge(None if engine_loop is None else engine_loop.start())
        parts = EngineParts(
            store,
            registry,
            box,
            settings,
            PartsOptions(
                options.role,
                options.broker_kind,
                options.token,
                options.url,
                options.queue_size,
                options.intake,
            ),
            logger,
        )
        try:
            if bridge.crosses:
                await bridge.call(join_loop(store))
            ctx = await bridge.call(parts.open())
            if options.token is None:
                logger.warning("admin API off: it answers 503 until FLOWMIXER_ADMIN_TOKEN is set")
            header_timeout, body_timeout = options.timeouts
            server = Server(
                ctx,
                host=options.host,
                port=options.port,
                bridge=bridge,
                header_timeout=header_timeout,
                body_timeout=body_timeout,
            )
            try:
                try:
                    await server.start()
                except OSError as exc:
                    if exc.errno not in BIND_ERRORS:
                        raise
                    # The port was taken since check_port.
                    raise bind_error(exc, options.host, options.port) from None
                await stop.event.wait()
                logger.info("server stopping")
            finally:
                await bridge.call(parts.quiet())  # no reconcile restarts a flow being stopped
                await server.close()  # stops listening, then the flows
        finally:
            await bridge.call(parts.close())  # the broker's last writes, before the store
            if bridge.crosses:
                await bridge.call(leave_loop(store))
            if engine_loop is not None:
                await asyncio.to_thread(engine_loop.stop)
    return stop.exit_code()
