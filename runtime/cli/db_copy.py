"""``flowmixer db copy --from URL --to URL [--force]``: move a whole installation between
databases (SQLite to PostgreSQL and back); see :mod:`runtime.stores.copy`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, cast

from runtime.errors import ConfigurationError
from runtime.stores.copy import KINDS, CopyableStore, copy_installation
from runtime.stores.urls import DatabaseUrl, open_store, parse_url

if TYPE_CHECKING:
    from runtime.settings import Settings

NOT_COPIED = (
    "not copied: OAuth logins under way (start them again) and the durable broker's queued"
    " messages (stop the server before copying)"
)


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    copy = actions.add_parser(
        "copy",
        help="copy a whole installation to another database",
        description="Copy app configuration, the vault's accounts, deployed flows and their"
        " hook secrets, component state, effects, dead letters and idempotency keys from one"
        " database to another (sqlite:///PATH or postgresql://...). Sealed values are copied"
        " sealed: the target needs the same secret key. " + NOT_COPIED + ".",
        epilog="Exit code 0, or 1 when the target is not empty and --force is not given.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="copy from")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="copy into")
    copy.add_argument(
        "--force", action="store_true", help="replace the records a non-empty target holds"
    )
    copy.add_argument("--json", action="store_true", help="print one JSON object")
    copy.set_defaults(handler=cmd_copy)


async def _copy(source: DatabaseUrl, target: DatabaseUrl, force: bool) -> dict[str, int]:
    origin = await open_store(source)
    try:
        destination = await open_store(target)
        try:
            return await copy_installation(
                cast(CopyableStore, origin), cast(CopyableStore, destination), force=force
            )
        finally:
            await destination.close()
    finally:
        await origin.close()


def cmd_copy(args: argparse.Namespace, settings: Settings) -> int:
    source = parse_url(args.source, name="--from")
    target = parse_url(args.target, name="--to")
    if str(source) == str(target):
        raise ConfigurationError("--from and --to name the same database")
    if target.kind == "sqlite" and target.path is not None:
        target.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    copied = asyncio.run(_copy(source, target, args.force))
    if args.json:
        print(json.dumps({"from": source.redacted(), "to": target.redacted(), "copied": copied}))
        return 0
    print(f"copied {source.redacted()} to {target.redacted()}:")
    for kind in KINDS:
        print(f"  {copied[kind.name]:>8}  {kind.label}")
    print(NOT_COPIED)
    return 0
