"""``flowmixer run``: run one flow in this process, push events into it, print what leaves it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import event_loop, json_limits
from runtime.auth.resolution import local_credentials, local_quotas
from runtime.cli.broker_option import add_broker_option, make_broker
from runtime.cli.loading import load_registry
from runtime.cli.usage import StopSignals, UsageError
from runtime.engine import Engine, Output
from runtime.errors import ConfigurationError
from runtime.flow import load_flow
from runtime.registry import Registry
from runtime.stores.urls import opened_store

if TYPE_CHECKING:
    import argparse

    from runtime.node import ComponentStats
    from runtime.plan import FlowPlan
    from runtime.settings import Settings

EXIT_DEAD_LETTERS = 3
STOP = 30.0
STOP_AFTER_INTERRUPT = 3.0
EXIT_INTERRUPTED = 130


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run a flow in this process",
        description="Run a flow with the in-memory broker (or --broker sqlite) and the SQLite"
        " store under $FLOWMIXER_HOME. Each message that leaves the flow is printed to standard"
        " output as a JSON line; a summary goes to standard error. Components that call a"
        " service use its connected account (flowmixer auth login SERVICE), else the service's"
        " token variable (PINTEREST_ACCESS_TOKEN for acme:pinterest), calling the API base of"
        " PINTEREST_API_BASE, else of the app configuration's apiBase. Without --until-idle or"
        " --duration it runs until interrupted (Ctrl-C stops it gracefully).",
    )
    run.add_argument("flow", type=Path, metavar="FLOW.json")
    run.add_argument(
        "--push",
        action="append",
        default=[],
        metavar="COMPONENT_ID=FILE.json",
        help="push the JSON event in FILE (- for standard input) into webhook trigger"
        " COMPONENT_ID once the flow runs; repeatable, pushed in order",
    )
    until = run.add_mutually_exclusive_group()
    until.add_argument(
        "--until-idle",
        action="store_true",
        help="stop once nothing is queued, waiting for a retry or being handled",
    )
    until.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many seconds"
    )
    add_broker_option(run, default="memory")
    run.set_defaults(handler=cmd_run)


@dataclass(frozen=True)
class Push:
    component_id: str
    payload: Any
    source: str


def parse_pushes(specs: list[str], plan: FlowPlan) -> list[Push]:
    """Read every ``ID=FILE`` before the flow starts, so a bad one starts nothing."""
    pushes: list[Push] = []
    for spec in specs:
        component_id, sep, filename = spec.partition("=")
        if not sep or not component_id or not filename:
            raise UsageError(f"--push {spec!r}: expected COMPONENT_ID=FILE.json")
        node = plan.nodes.get(component_id)
        if node is None or not node.webhook:
            hooks = ", ".join(n.id for n in plan.nodes.values() if n.webhook) or "none"
            raise ConfigurationError(
                f"--push {spec!r}: flow {plan.id!r} has no webhook trigger {component_id!r}"
                f" (its webhook triggers: {hooks})"
            )
        try:
            text = sys.stdin.read() if filename == "-" else Path(filename).read_text("utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"--push {spec!r}: cannot read {filename}: {exc.strerror}"
            ) from None
        try:
            payload = json_limits.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"--push {spec!r}: {filename} is not JSON: {exc.msg} at line {exc.lineno}"
                f" column {exc.colno}"
            ) from None
        except json_limits.JSONLimitError as exc:
            raise ConfigurationError(f"--push {spec!r}: {filename} is refused: {exc}") from None
        pushes.append(Push(component_id, payload, filename))
    return pushes


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    plan = load_flow(args.flow, load_registry())
    pushes = parse_pushes(args.push, plan)
    return event_loop.run(_run(plan, pushes, args, settings))


def _print_output(output: Output) -> None:
    line = {
        "flow": output.flow_id,
        "component": output.component_id,
        "port": output.port,
        "correlationId": output.correlation_id,
        "payload": output.payload,
    }
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _run(
    plan: FlowPlan, pushes: list[Push], args: argparse.Namespace, settings: Settings
) -> int:
    settings.ensure_home()
    stop = StopSignals()
    stop.install()
    interrupted = stop.event
    registry = Registry.load()
    async with (
        opened_store(settings.database) as store,
        local_credentials(settings, registry, store) as credentials,
        contextlib.AsyncExitStack() as closing,
    ):
        broker = make_broker(
            args.broker, store, settings.redis_url, redis_visibility=settings.redis_visibility
        )
        closing.push_async_callback(broker.close)  # after the engine, before the store
        quotas = await closing.enter_async_context(local_quotas(settings, registry, store))
        engine = await closing.enter_async_context(
            Engine(
                store,
                broker=broker,
                on_output=_print_output,
                credentials=credentials,
                quotas=quotas,
            )
        )
        await engine.start_flow(plan)
        for push in pushes:
            await engine.push(plan.id, push.component_id, push.payload)
        finished = await _wait(engine, plan.id, args, stop)
        stats = engine.stats(plan.id)
        # Interrupted: a person is waiting, so in-flight work gets a few seconds and what is
        # still queued goes to the dead letters (retry them later) instead of a long drain;
        # the sqlite broker keeps it queued for the flow's next run instead.
        await engine.stop_flow(
            plan.id, timeout=STOP_AFTER_INTERRUPT if interrupted.is_set() else STOP
        )
    dead = sum(s.dead_lettered for s in stats.values())
    _print_summary(plan, stats, dead)
    if not finished:
        return EXIT_INTERRUPTED
    return EXIT_DEAD_LETTERS if dead else 0


async def _wait(
    engine: Engine, flow_id: str, args: argparse.Namespace, signals: StopSignals
) -> bool:
    """Wait for the run's end condition; False when interrupted before it was met (with no
    end condition: by Ctrl-C; SIGTERM is then the ordinary way to end)."""
    interrupted = signals.event
    if args.until_idle:
        done: asyncio.Future[Any] = asyncio.ensure_future(engine.wait_idle(flow_id))
    elif args.duration is not None:
        done = asyncio.ensure_future(asyncio.sleep(args.duration))
    else:
        await interrupted.wait()
        return not signals.interrupted
    stop = asyncio.ensure_future(interrupted.wait())
    await asyncio.wait({done, stop}, return_when=asyncio.FIRST_COMPLETED)
    for task in (done, stop):
        task.cancel()
    return not interrupted.is_set()


def _print_summary(plan: FlowPlan, stats: dict[str, ComponentStats], dead: int) -> None:
    sys.stderr.write(summary_text(plan, stats, dead))


def summary_text(plan: FlowPlan, stats: dict[str, ComponentStats], dead: int) -> str:
    """The run's summary: per component the messages that arrived (each counted once, however
    often it was tried), then what was sent on ports no wire leaves."""
    width = max(len(cid) for cid in stats)
    lines = [
        f"\nflow {plan.id!r}: summary",
        f"  {'component':<{width}}  messages  sent  retries  deferrals  dead-lettered",
    ]
    for cid, s in stats.items():
        lines.append(
            f"  {cid:<{width}}  {s.received - s.redelivered:>8}  {s.sent:>4}  {s.retried:>7}"
            f"  {s.deferred:>9}  {s.dead_lettered:>13}"
        )
    printed = _unwired(plan, stats, sinks=True)
    dropped = _unwired(plan, stats, sinks=False)
    if printed:
        lines.append(f"  left the flow (printed on standard output): {printed}")
    if dropped:
        lines.append(
            f"  dropped (sent on ports no wire leaves; wire a port to pass its messages on):"
            f" {dropped}"
        )
    if dead:
        lines.append(
            f"  {dead} message(s) went to the dead letters: see"
            f" `flowmixer dead-letters list --flow {plan.id}`"
        )
    return "\n".join(lines) + "\n"


def _unwired(plan: FlowPlan, stats: dict[str, ComponentStats], *, sinks: bool) -> str:
    """``component.port N`` for each unwired port of the sinks (or of the other components)."""
    return ", ".join(
        f"{cid}.{port} {count}"
        for cid, s in stats.items()
        if plan.nodes[cid].is_sink == sinks
        for port, count in s.unwired.items()
    )
