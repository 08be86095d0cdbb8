"""The ``--broker memory|sqlite`` option of ``flowmixer run`` and ``flowmixer serve``."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Final

from runtime.brokers.memory import MemoryBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.errors import ConfigurationError
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    import argparse

    from runtime.brokers.base import Broker
    from runtime.stores.contracts import DataStore

BROKERS: Final = ("memory", "sqlite")


def add_broker_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default=default,
        help="where queued messages live: memory (fastest; what is queued at a crash is lost)"
        " or sqlite (durable, in the database under $FLOWMIXER_HOME; survives a crash and is"
        f" delivered after a restart); default {default}",
    )


def make_broker(kind: str, store: DataStore) -> Broker:
    """The broker ``--broker`` asked for, on ``store``'s database; close it before ``store``.
    The durable broker needs a database that keeps its rows: a SQLite one, or PostgreSQL
    where a PostgreSQL broker is installed (``runtime.brokers.postgres``)."""
    if kind == "memory":
        return MemoryBroker()
    if isinstance(store, SQLiteStore):
        return SQLiteBroker(store)
    if importlib.util.find_spec("runtime.brokers.postgres") is not None:
        postgres = importlib.import_module("runtime.brokers.postgres")
        broker: Broker = postgres.PostgresBroker(store)
        return broker
    raise ConfigurationError(
        f"--broker {kind} keeps messages in a SQLite database, not in {store_where(store)};"
        " use --broker memory (what is queued at a crash is then lost; state, effects,"
        " dead letters, accounts and flows stay in PostgreSQL)"
    )


def store_where(store: DataStore) -> str:
    """The store's database for messages (without a password)."""
    return str(getattr(store, "where", "this database"))
