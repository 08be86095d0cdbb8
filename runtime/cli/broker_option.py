"""The ``--broker memory|sqlite`` option of ``flowmixer run`` and ``flowmixer serve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from runtime.brokers.memory import MemoryBroker
from runtime.brokers.sqlite import SQLiteBroker

if TYPE_CHECKING:
    import argparse

    from runtime.brokers.base import Broker
    from runtime.stores.sqlite import SQLiteStore

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


def make_broker(kind: str, store: SQLiteStore) -> Broker:
    """The broker ``--broker`` asked for; close it before ``store``."""
    return SQLiteBroker(store) if kind == "sqlite" else MemoryBroker()
