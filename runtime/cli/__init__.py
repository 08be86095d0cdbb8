"""The ``flowmixer`` command.

Exit codes (the same for every command):

====  ===========================================================================
0     success
1     the input was refused (invalid flow or manifest, unknown id) or the run failed
2     the command line itself is wrong (unknown option, missing argument)
3     ``run`` finished, but some messages ended in the dead letters
130   interrupted (Ctrl-C) before the work was done
====  ===========================================================================

Results go to standard output (JSON lines where asked); logs and summaries go to standard
error, so output can be piped. ``--log-format`` and ``--log-level`` may be given before or after
the command's name (``flowmixer --log-level debug run ...`` or ``flowmixer run ... --log-level
debug``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from runtime import __version__
from runtime.cli.connector_commands import add_connector_commands
from runtime.cli.usage import EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from runtime.errors import FlowmixerError
from runtime.logging import configure_logging
from runtime.settings import Settings, check_redis_url
from runtime.stores.urls import parse_url

if TYPE_CHECKING:
    from collections.abc import Sequence

# The runtime's modules that add sub-commands, each with ``register(commands)``; the connectors'
# follow, named by their service manifests (runtime.cli.connector_commands).
COMMAND_MODULES = (
    "runtime.cli.inspect",
    "runtime.cli.run",
    "runtime.cli.call",
    "runtime.cli.dead_letters",
    "runtime.cli.serve",
    "runtime.cli.worker",
    "runtime.cli.config",
    "runtime.cli.auth",
    "runtime.cli.deploy",
    "runtime.cli.new",
    "runtime.cli.db",
)

EXIT_OK = 0
EXIT_REFUSED = 1
LOG_FORMATS = ("auto", "console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowmixer",
        description="Run integration flows: JSON manifests, async components, queues.",
        epilog="Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 dead letters, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"flowmixer {__version__}")
    _add_log_options(parser, default=None)
    _add_database_option(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    add_connector_commands(commands)
    for sub in _subcommands(parser):
        # Given after the command's name too; SUPPRESS keeps an absent one from hiding the
        # value given before it.
        _add_log_options(sub, default=argparse.SUPPRESS)
        _add_database_option(sub, default=argparse.SUPPRESS)
    return parser


def _add_database_option(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        default=default,
        help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME (before or after the"
        " command; default the SQLite file in $FLOWMIXER_HOME; env FLOWMIXER_DATABASE_URL)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=default,
        help="redis://HOST:PORT/DB of a scale-out's Redis server (before or after the command;"
        " default none; env FLOWMIXER_REDIS_URL)",
    )


def _add_log_options(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    group = parser.add_argument_group("logging (before or after the command)")
    group.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default,
        help="log style on standard error (default: console on a terminal, else JSON lines;"
        " env FLOWMIXER_LOG_FORMAT)",
    )
    group.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=default,
        help="lowest level logged (default: info; env FLOWMIXER_LOG_LEVEL)",
    )


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every sub-command parser below ``parser``, nested ones too; each one without a
    description gets its one-line help as one, so every ``--help`` says what it does."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if sub.description is None and helps.get(name):
                text = str(helps[name])
                sub.description = text[:1].upper() + text[1:] + "."
            found.append(sub)
            found.extend(_subcommands(sub))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.database:
            parse_url(args.database, name="--database")  # refused here, naming the option
            settings = replace(settings, database_url=args.database)
        if args.redis:
            check_redis_url(args.redis, name="--redis")
            settings = replace(settings, redis_url=args.redis)
        configure_logging(
            fmt=args.log_format or settings.log_format,
            level=args.log_level or settings.log_level,
        )
        code: int = args.handler(args, settings)
    except UsageError as exc:
        print(f"flowmixer {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FlowmixerError as exc:
        print(f"flowmixer: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("flowmixer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`flowmixer components | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code
