"""``flowmixer dead-letters list|show|count|retry|drop``: messages that could not be handled."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError
from runtime.stores.letters import DeadLetterQuery, parse_time
from runtime.stores.urls import open_store

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.settings import Settings
    from runtime.stores.base import DeadLetter, Store
    from runtime.stores.letters import DeadLetterCount, DeadLetterPage

TIME_HELP = (
    "ISO 8601 (2026-11-29T08:00:00Z, UTC unless said), epoch seconds, or an age: 30m, 2h, 7d"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "dead-letters",
        help="list, show, count, retry or drop dead letters",
        description="Dead letters are messages that could not be handled, kept with their"
        " envelope, the error and the number of attempts, in the store under $FLOWMIXER_HOME.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="newest first, filtered")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--cursor", help="start after the page that printed this cursor")
    _json_option(listing, "print JSON lines (the next page's cursor goes to standard error)")
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="one dead letter with its whole envelope, as JSON")
    show.add_argument("id")
    show.set_defaults(handler=cmd_show)

    count = actions.add_parser("count", help="how many, per flow, component and error type")
    _filters(count)
    _json_option(count, "print JSON lines")
    count.set_defaults(handler=cmd_count)

    for name, helptext, handler in (
        ("retry", "deliver again at the next start of the flow", cmd_retry),
        ("drop", "delete for good", cmd_drop),
    ):
        action = actions.add_parser(
            name,
            help=helptext,
            description=f"{helptext.capitalize()}: the dead letters named by ID, or with --all"
            " every dead letter of --flow that the other filters match.",
        )
        action.add_argument("ids", nargs="*", metavar="ID")
        action.add_argument("--all", action="store_true", help="every matching letter of --flow")
        _filters(action)
        _json_option(action, 'print {"count": N, "missing": [...]} as JSON')
        if name == "drop":
            action.add_argument("--yes", action="store_true", help="drop --all without asking")
        action.set_defaults(handler=handler)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", help="only this flow")
    parser.add_argument("--component", help="only this component")
    parser.add_argument("--error-type", help="only this error type (e.g. NotFoundError)")
    parser.add_argument("--since", help=f"failed at or after this time: {TIME_HELP}")
    parser.add_argument("--until", help=f"failed before this time: {TIME_HELP}")
    parser.add_argument("--search", help="only letters whose error contains this (any case)")


def _json_option(parser: argparse.ArgumentParser, helptext: str) -> None:
    parser.add_argument("--json", action="store_true", help=helptext)


def query_of(args: argparse.Namespace) -> DeadLetterQuery:
    """The filters of the command line as a query (times read, or a clear refusal)."""
    try:
        since = None if args.since is None else parse_time(args.since, "--since")
        until = None if args.until is None else parse_time(args.until, "--until")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return DeadLetterQuery(
        flow_id=args.flow,
        component_id=args.component,
        error_type=args.error_type,
        since=since,
        until=until,
        text=args.search,
    )


def _run(settings: Settings, work: Callable[[Store], Awaitable[Any]]) -> Any:
    async def opened() -> Any:
        url = settings.database
        if url.kind == "sqlite":
            settings.ensure_home()
        store = await open_store(url)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(opened())
    except ValueError as exc:  # a bad --limit or --cursor, refused by the store
        raise ConfigurationError(str(exc)) from None


def _print_json(data: Any) -> None:
    print(json.dumps(data, separators=(",", ":")))


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    query = query_of(args)
    page: DeadLetterPage = _run(
        settings, lambda store: store.find_dead_letters(query, limit=args.limit, cursor=args.cursor)
    )
    if args.json:
        for letter in page.letters:
            _print_json(letter.to_dict())
    elif not page.letters:
        print("no dead letters")
    else:
        for letter in page.letters:
            print(_line(letter))
    if page.next is not None:
        print(f"more: add --cursor {page.next} for the next page", file=sys.stderr)
    return 0


def _line(letter: DeadLetter) -> str:
    when = datetime.datetime.fromtimestamp(letter.failed_at, datetime.UTC)
    flag = "  [retry at next start]" if letter.retry_requested else ""
    return (
        f"{letter.id}  {when:%Y-%m-%d %H:%M:%S}Z  {letter.flow_id}/{letter.component_id}"
        f"  attempts={letter.attempts}  {letter.error_type}: {_one_line(letter.error)}{flag}"
    )


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    letter: DeadLetter | None = _run(settings, lambda store: store.get_dead_letter(args.id))
    if letter is None:
        raise ConfigurationError(f"there is no dead letter {args.id!r}")
    print(json.dumps(letter.to_dict(), indent=2))
    return 0


def cmd_count(args: argparse.Namespace, settings: Settings) -> int:
    query = query_of(args)
    counts: list[DeadLetterCount] = _run(settings, lambda store: store.count_dead_letters(query))
    if args.json:
        for count in counts:
            _print_json(count.to_dict())
        return 0
    for count in counts:
        print(f"{count.count:>8}  {count.flow_id}/{count.component_id}  {count.error_type}")
    print(f"{sum(c.count for c in counts):>8}  in all")
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    done, missing = _apply(
        args,
        settings,
        lambda store, i: store.request_retry(i),
        lambda store, query: store.request_retries(query),
    )
    if args.json:
        _print_json({"count": done, "missing": missing})
    else:
        print(f"{done} dead letter(s) will be delivered again at the next start of their flow")
    return _report_missing(missing)


def cmd_drop(args: argparse.Namespace, settings: Settings) -> int:
    if args.all and not args.yes:
        _confirm_drop(args, settings)
    done, missing = _apply(
        args,
        settings,
        lambda store, i: store.delete_dead_letter(i),
        lambda store, query: store.delete_dead_letters(query),
    )
    if args.json:
        _print_json({"count": done, "missing": missing})
    else:
        print(f"{done} dead letter(s) dropped")
    return _report_missing(missing)


def _confirm_drop(args: argparse.Namespace, settings: Settings) -> None:
    """Ask on a terminal before a bulk drop; refuse elsewhere (a script must say --yes)."""
    _check_targets(args)
    query = query_of(args)
    counts: list[DeadLetterCount] = _run(settings, lambda store: store.count_dead_letters(query))
    total = sum(c.count for c in counts)
    what = f"{total} dead letter(s) of flow {args.flow!r}"
    if not sys.stdin.isatty():
        raise ConfigurationError(f"this would drop {what}; add --yes to drop them")
    answer = input(f"Drop {what} for good? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise ConfigurationError("nothing dropped")


def _check_targets(args: argparse.Namespace) -> None:
    if args.all and not args.flow:
        raise ConfigurationError("--all needs --flow FLOW_ID (so it cannot empty every flow)")
    if args.all and args.ids:
        raise ConfigurationError("name dead letters (ID ...) or use --all, not both")
    if not args.all and not args.ids:
        raise ConfigurationError("name the dead letters (ID ...) or use --flow FLOW_ID --all")
    filtered = (args.component, args.error_type, args.since, args.until, args.search)
    if args.ids and (args.flow or any(f is not None for f in filtered)):
        raise ConfigurationError("filters (--flow, --component...) only apply with --all")


def _apply(
    args: argparse.Namespace,
    settings: Settings,
    one: Callable[[Store, str], Awaitable[bool]],
    every: Callable[[Store, DeadLetterQuery], Awaitable[int]],
) -> tuple[int, list[str]]:
    """Apply ``one`` to each named letter, or ``every`` to the query of ``--all``: how many it
    applied to, and which named ones were unknown."""
    _check_targets(args)
    if args.all:
        query = query_of(args)
        done: int = _run(settings, lambda store: every(store, query))
        return done, []

    async def each(store: Store) -> list[str]:
        return [i for i in args.ids if not await one(store, i)]

    missing: list[str] = _run(settings, each)
    return len(args.ids) - len(missing), missing


def _report_missing(missing: list[str]) -> int:
    for letter_id in missing:
        print(f"flowmixer: there is no dead letter {letter_id!r}", file=sys.stderr)
    return 1 if missing else 0


def _one_line(text: str, width: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
