"""The ``--broker memory|sqlite|postgres`` option of ``flowmixer run`` and ``flowmixer serve``.

``sqlite``, the durable default's historical name, means the durable broker of the database
in use: the ``messages`` table of the SQLite file, or of the PostgreSQL database when the
database URL is ``postgresql://``. ``postgres`` says so explicitly and is refused on SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from runtime.brokers.memory import MemoryBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.errors import ConfigurationError
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    import argparse

    from runtime.brokers.base import Broker
    from runtime.stores.contracts import DataStore

BROKERS: Final = ("memory", "sqlite", "postgres")


def add_broker_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default=default,
        help="where queued messages live: memory (fastest; what is queued at a crash is lost)"
        " or sqlite (durable, in the database: the SQLite file under $FLOWMIXER_HOME, or the"
        " PostgreSQL database of a postgresql:// --database; survives a crash and is"
        " delivered after a restart); postgres is the durable one, insisting on PostgreSQL;"
        f" default {default}",
    )


def make_broker(
    kind: str, store: DataStore, redis_url: str | None = None, *, visibility: float | None = None
) -> Broker:
    """The broker ``--broker`` asked for, on ``store``'s database; close it before ``store``.

    With ``redis_url`` (``--redis`` or ``FLOWMIXER_REDIS_URL``) it is the Redis Streams broker
    whatever ``--broker`` says; it keeps its dead letters and outbox in ``store``, which must
    be a database (SQLite or PostgreSQL); ``visibility`` is its visibility timeout in seconds
    (``FLOWMIXER_REDIS_VISIBILITY``; default the broker's).
    """
    if redis_url is not None:
        if isinstance(store, MemoryStore):
            raise ConfigurationError(
                "--redis needs a database for dead letters and effects: a SQLite file or a"
                " postgresql:// --database (FLOWMIXER_DATABASE_URL), not an in-memory store"
            )
        from runtime.brokers.redis import RedisBroker

        if visibility is None:
            return RedisBroker(redis_url, store)
        return RedisBroker(redis_url, store, visibility_timeout=visibility)
    if kind == "memory":
        return MemoryBroker()
    if isinstance(store, SQLiteStore) and kind == "sqlite":
        return SQLiteBroker(store)
    from runtime.stores.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        from runtime.brokers.postgres import PostgresBroker

        return PostgresBroker(store)
    raise ConfigurationError(
        f"--broker {kind} needs a postgresql:// database (--database or"
        " FLOWMIXER_DATABASE_URL); use --broker sqlite for the durable broker of a SQLite one"
    )
