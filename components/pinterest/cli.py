"""The Pinterest connector's commands: ``flowmixer emulate pinterest`` and ``flowmixer demo``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from components.pinterest.emulator import cli as emulator_cli

if TYPE_CHECKING:
    import argparse

    from runtime.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emulator_cli.register(commands)
    demo = commands.add_parser(
        "demo",
        help="run the repin example flow against a built-in Pinterest emulator",
        description="Start a Pinterest emulator in this process, run"
        " examples/flows/repin-new-pins.json against it, pin a few things on the watched board"
        " and show what the flow does. No account and no network beyond 127.0.0.1.",
    )
    demo.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the copies (30)"
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from components.pinterest.demo import run_demo

    report = asyncio.run(run_demo(timeout=args.timeout))
    return 0 if report.ok else 1
