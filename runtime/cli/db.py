"""``flowmixer db status|upgrade|copy``: the schema version of the database and its pending steps
(``copy``: :mod:`runtime.cli.db_copy`).

The database is the one ``--database`` or ``FLOWMIXER_DATABASE_URL`` names (default the SQLite
file in ``$FLOWMIXER_HOME``). Stores apply pending steps when they open; ``upgrade`` does it
ahead of time (before deploying a new flowmixer, say) and ``status`` only looks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from runtime.cli import db_copy
from runtime.errors import ConfigurationError
from runtime.stores.migrations import SchemaStatus, schema_status, upgrade

if TYPE_CHECKING:
    from runtime.settings import Settings

EXIT_OK = 0
EXIT_REFUSED = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "db",
        help="show or apply the database's schema steps",
        description="The schema of the database (--database URL or FLOWMIXER_DATABASE_URL;"
        " default the SQLite file in $FLOWMIXER_HOME): which version it is at, and the"
        " numbered steps this flowmixer would apply.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status",
        help="the schema version and the pending steps; changes nothing",
        epilog="Exit code 0, or 1 when the database is newer than this flowmixer (it would be"
        " refused).",
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=cmd_status)
    apply = actions.add_parser("upgrade", help="apply the pending steps, in one transaction")
    apply.add_argument("--json", action="store_true", help="print one JSON object")
    apply.set_defaults(handler=cmd_upgrade)
    db_copy.register(actions)


def _as_dict(status: SchemaStatus) -> dict[str, object]:
    return {
        "database": status.database,
        "version": status.current,
        "latest": status.latest,
        "pending": list(status.pending),
    }


def _print(status: SchemaStatus) -> None:
    print(f"database: {status.database}")
    print(f"schema version: {status.current} (this flowmixer knows {status.latest})")
    if status.newer:
        print("newer than this flowmixer: upgrade flowmixer to use it")
    elif status.pending:
        print(f"pending steps ({len(status.pending)}):")
        for step in status.pending:
            print(f"  {step}")
    else:
        print("up to date")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    found = asyncio.run(schema_status(settings.database))
    if args.json:
        print(json.dumps(_as_dict(found)))
    else:
        _print(found)
    return EXIT_REFUSED if found.newer else EXIT_OK


def cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database
    if url.kind == "sqlite":
        settings.ensure_home()
    before, after = asyncio.run(upgrade(url))
    if after.pending:  # another flowmixer changed it in between
        raise ConfigurationError(f"the database {after.database} is still not up to date")
    if args.json:
        print(json.dumps({**_as_dict(after), "applied": list(before.pending)}))
    elif before.pending:
        print(f"upgraded {after.database} from version {before.current} to {after.current}:")
        for step in before.pending:
            print(f"  {step}")
    else:
        print(f"{after.database} is up to date (version {after.current})")
    return EXIT_OK
