"""The effects ledger's works for the SQLite broker's group commit (see
:mod:`runtime.brokers.effect_outbox`): each returns a function of the connection."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from runtime.stores import sqlite_effects

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from runtime.stores.base import EffectRecord


def _get(name: tuple[str, str, str, str], conn: sqlite3.Connection) -> EffectRecord | None:
    return sqlite_effects.get(conn, *name)


def _claim(row: tuple[Any, ...], conn: sqlite3.Connection) -> bool:
    return sqlite_effects.claim(conn, row)


def _put(row: tuple[Any, ...], conn: sqlite3.Connection) -> None:
    sqlite_effects.put(conn, row)


def _put_all(rows: list[tuple[Any, ...]], conn: sqlite3.Connection) -> None:
    sqlite_effects.put_all(conn, rows)


def _claimed(refs: list[str], conn: sqlite3.Connection) -> set[str]:
    return sqlite_effects.claimed(conn, refs)


def get(name: tuple[str, str, str, str]) -> Callable[[sqlite3.Connection], Any]:
    return partial(_get, name)


def claim(record: EffectRecord) -> Callable[[sqlite3.Connection], Any]:
    return partial(_claim, sqlite_effects.encode(record))


def put(record: EffectRecord) -> Callable[[sqlite3.Connection], Any]:
    return partial(_put, sqlite_effects.encode(record))


def put_all(records: list[EffectRecord]) -> Callable[[sqlite3.Connection], Any]:
    return partial(_put_all, [sqlite_effects.encode(record) for record in records])


def claimed(refs: list[str]) -> Callable[[sqlite3.Connection], Any]:
    return partial(_claimed, refs)
