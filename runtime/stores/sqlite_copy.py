"""The SQLite store's side of ``flowmixer db copy`` (:mod:`runtime.stores.copy`): every record
of a kind read, or replaced in one transaction. A mixin of
:class:`~runtime.stores.sqlite.SQLiteStore`; every statement runs on the store's thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.stores.copy import Kind, Row, normalized

T = TypeVar("T")


def _dump(kind: Kind, conn: sqlite3.Connection) -> list[Row]:
    order = " ORDER BY failed_at, rowid" if kind.table == "dead_letters" else ""
    rows = conn.execute(f"SELECT {', '.join(kind.columns)} FROM {kind.table}{order}").fetchall()
    return [normalized(kind, row) for row in rows]


def _load(kind: Kind, rows: Sequence[Row], conn: sqlite3.Connection) -> None:
    marks = ", ".join("?" * len(kind.columns))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"DELETE FROM {kind.table}")
        conn.executemany(
            f"INSERT INTO {kind.table} ({', '.join(kind.columns)}) VALUES ({marks})",
            [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _count(kind: Kind, conn: sqlite3.Connection) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {kind.table}").fetchone()[0])


class SQLiteCopyRows:
    """The :class:`~runtime.stores.copy.CopyableStore` part of the SQLite store."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:

        async def _run(self, work: Callable[..., T], *args: Any) -> T: ...

    async def dump_records(self, kind: Kind) -> list[Row]:
        return await self._run(_dump, kind, self._conn)

    async def load_records(self, kind: Kind, rows: Sequence[Row]) -> None:
        await self._run(_load, kind, list(rows), self._conn)

    async def count_records(self, kind: Kind) -> int:
        return await self._run(_count, kind, self._conn)
