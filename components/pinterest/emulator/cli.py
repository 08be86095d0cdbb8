"""``flowmixer emulate pinterest``: run the emulator on 127.0.0.1 until SIGTERM or Ctrl-C.

Prints the base URL, the API base, the OAuth URLs and the demo app's client id on standard
output (the client secret only with ``--show-secret``), then serves until stopped: exit 0 after
SIGTERM, 130 after Ctrl-C (SIGINT), as every ``flowmixer`` command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from components.pinterest.emulator.config import EmulatorConfig
from components.pinterest.emulator.emulator import Emulator
from components.pinterest.emulator.fault_spec import FIELDS, parse_faults
from components.pinterest.emulator.faults import FaultPlan
from runtime.cli.usage import StopSignals, UsageError
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emulate = commands.add_parser(
        "emulate",
        help="run a local emulator of an external API",
        description="Run a local emulator of an external API on 127.0.0.1, for tests, demos"
        " and offline flow development.",
    )
    services = emulate.add_subparsers(dest="service", metavar="SERVICE", required=True)
    add_arguments(
        services.add_parser(
            "pinterest",
            help="Pinterest API v5 with OAuth",
            description="Serve Pinterest API v5 (base path /v5) and its OAuth pages from memory"
            " until SIGTERM or Ctrl-C.",
        )
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8089, help="port to listen on; 0 picks a free one (8089)"
    )
    parser.add_argument(
        "--seed", type=Path, metavar="FILE.json", help="starting data (default: the demo seed)"
    )
    parser.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve every authorization request at once, without the consent page",
    )
    parser.add_argument(
        "--show-secret", action="store_true", help="also print the demo app's client secret"
    )
    parser.add_argument(
        "--issue-token",
        action="store_true",
        help="also print an access token of the seed's first user with every organic scope,"
        " for PINTEREST_ACCESS_TOKEN (a credential of this emulator only)",
    )
    parser.add_argument(
        "--faults",
        metavar="PLAN",
        help="inject faults from the start: JSON ('{\"error_rate\": 0.05}') or key=value pairs"
        " ('error_rate=0.05,drop_after_rate=0.2,operations=pins/create'); fields: "
        + ", ".join(FIELDS)
        + ". Change them while it runs at /_emulator/faults (GET, POST, DELETE)",
    )
    parser.set_defaults(handler=cmd_emulate_pinterest)


def cmd_emulate_pinterest(args: argparse.Namespace, settings: Settings | None) -> int:
    try:
        plan = parse_faults(args.faults) if args.faults is not None else FaultPlan()
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    emu = Emulator(
        seed=args.seed, config=EmulatorConfig(auto_approve=args.auto_approve, faults=plan)
    )
    return asyncio.run(
        serve(
            emu,
            args.host,
            args.port,
            show_secret=args.show_secret,
            issue_token=getattr(args, "issue_token", False),
        )
    )


async def serve(
    emu: Emulator, host: str, port: int, *, show_secret: bool = False, issue_token: bool = False
) -> int:
    stop = StopSignals()
    stop.install()
    async with emu.running(host, port) as base:
        secret = emu.app.client_secret if show_secret else "(hidden; use --show-secret)"
        lines = [
            f"Pinterest emulator listening on {base}",
            f"  API base       {base}/v5",
            f"  authorize URL  {base}/oauth/",
            f"  token URL      {base}/v5/oauth/token",
            f"  client id      {emu.app.client_id}",
            f"  client secret  {secret}",
            f"  fault controls {base}/_emulator/faults",
        ]
        if issue_token:  # asked for: a credential of this local emulator only
            user = emu.state.users[emu.signed_in_user].username
            lines.append(f"  access token   {emu.issue_token().access_token} (user {user})")
        lines.append("Stop with Ctrl-C or SIGTERM.")
        print("\n".join(lines), flush=True)
        await stop.event.wait()
    print("Pinterest emulator stopped.", file=sys.stderr, flush=True)
    return stop.exit_code()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m components.pinterest.emulator``: the same options, without ``flowmixer``."""
    parser = argparse.ArgumentParser(
        prog="python -m components.pinterest.emulator",
        description="Serve Pinterest API v5 and its OAuth pages from memory on 127.0.0.1.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args, None)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2
    except ConfigurationError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    return code
