"""``flowmixer dead-letters list|show|retry|drop``: messages that could not be handled."""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from typing import TYPE_CHECKING

from runtime.errors import ConfigurationError
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

    from runtime.settings import Settings
    from runtime.stores.base import DeadLetter

ALL = 1_000_000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "dead-letters",
        help="list, show, retry or drop dead letters",
        description="Dead letters are messages that could not be handled, kept with their"
        " envelope, the error and the number of attempts, in the store under $FLOWMIXER_HOME.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="newest first")
    listing.add_argument("--flow", help="only this flow")
    listing.add_argument("--component", help="only this component")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="one dead letter with its whole envelope, as JSON")
    show.add_argument("id")
    show.set_defaults(handler=cmd_show)

    for name, helptext, handler in (
        ("retry", "deliver again at the next start of the flow", cmd_retry),
        ("drop", "delete for good", cmd_drop),
    ):
        action = actions.add_parser(name, help=helptext)
        action.add_argument("ids", nargs="*", metavar="ID")
        action.add_argument("--flow", help="with --all: every dead letter of this flow")
        action.add_argument("--all", action="store_true", help="every dead letter of --flow")
        action.set_defaults(handler=handler)


async def _open(settings: Settings) -> SQLiteStore:
    settings.ensure_home()
    return await SQLiteStore.open(settings.db_path)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[DeadLetter]:
        async with await _open(settings) as store:
            return await store.list_dead_letters(
                flow_id=args.flow, component_id=args.component, limit=args.limit
            )

    letters = asyncio.run(work())
    if args.json:
        for letter in letters:
            print(json.dumps(letter.to_dict(), separators=(",", ":")))
        return 0
    if not letters:
        print("no dead letters")
        return 0
    for letter in letters:
        when = datetime.datetime.fromtimestamp(letter.failed_at, datetime.UTC)
        flag = "  [retry at next start]" if letter.retry_requested else ""
        print(
            f"{letter.id}  {when:%Y-%m-%d %H:%M:%S}Z  {letter.flow_id}/{letter.component_id}"
            f"  attempts={letter.attempts}  {letter.error_type}: {_one_line(letter.error)}{flag}"
        )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> DeadLetter | None:
        async with await _open(settings) as store:
            return await store.get_dead_letter(args.id)

    letter = asyncio.run(work())
    if letter is None:
        raise ConfigurationError(f"there is no dead letter {args.id!r}")
    print(json.dumps(letter.to_dict(), indent=2))
    return 0


def _targets(args: argparse.Namespace) -> None:
    if args.all and not args.flow:
        raise ConfigurationError("--all needs --flow FLOW_ID (so it cannot empty every flow)")
    if not args.all and not args.ids:
        raise ConfigurationError("name the dead letters (ID ...) or use --flow FLOW_ID --all")


async def _select(store: SQLiteStore, args: argparse.Namespace) -> list[str]:
    if args.all:
        return [letter.id for letter in await store.list_dead_letters(flow_id=args.flow, limit=ALL)]
    return list(args.ids)


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    done, missing = _apply(args, settings, SQLiteStore.request_retry)
    print(f"{done} dead letter(s) will be delivered again at the next start of their flow")
    return _report_missing(missing)


def cmd_drop(args: argparse.Namespace, settings: Settings) -> int:
    done, missing = _apply(args, settings, SQLiteStore.delete_dead_letter)
    print(f"{done} dead letter(s) dropped")
    return _report_missing(missing)


def _apply(
    args: argparse.Namespace,
    settings: Settings,
    action: Callable[[SQLiteStore, str], Awaitable[bool]],
) -> tuple[int, list[str]]:
    """Apply ``action`` to the chosen dead letters: how many it applied to, which were unknown."""
    _targets(args)

    async def work() -> tuple[int, list[str]]:
        async with await _open(settings) as store:
            ids = await _select(store, args)
            missing = [i for i in ids if not await action(store, i)]
            return len(ids) - len(missing), missing

    return asyncio.run(work())


def _report_missing(missing: list[str]) -> int:
    for letter_id in missing:
        print(f"flowmixer: there is no dead letter {letter_id!r}", file=sys.stderr)
    return 1 if missing else 0


def _one_line(text: str, width: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
