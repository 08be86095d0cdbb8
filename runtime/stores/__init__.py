"""Stores keep what must outlive a message: component state and dead letters."""

from __future__ import annotations

from runtime.stores.base import DeadLetter, DeadLetterStore, StateStore, Store
from runtime.stores.letters import DeadLetterCount, DeadLetterPage, DeadLetterQuery
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

__all__ = [
    "DeadLetter",
    "DeadLetterCount",
    "DeadLetterPage",
    "DeadLetterQuery",
    "DeadLetterStore",
    "MemoryStore",
    "SQLiteStore",
    "StateStore",
    "Store",
]
