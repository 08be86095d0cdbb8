"""The SQL of the effects ledger's table, run by :class:`~runtime.stores.sqlite.SQLiteStore`.

Functions of a connection, called on the store's thread; the table is made by a step of
``runtime.stores.sqlite_schema.MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any, Final

from runtime.stores import codec
from runtime.stores.base import EffectRecord

_COLUMNS: Final = (
    "flow_id, component_id, correlation_id, digest, updated_at, attempts, first_sent_at,"
    " uncertain, completed_at, result_json, ref, notes_json"
)
# SQLite's default limit of bound parameters is 999 on old builds; lookups ask for far fewer.
_CHUNK: Final = 500


def encode(record: EffectRecord) -> tuple[Any, ...]:
    """The row of ``record`` (JSON values encoded, so the caller's thread finds bad data)."""
    return (
        record.flow_id,
        record.component_id,
        record.correlation_id,
        record.digest,
        record.updated_at,
        record.attempts,
        record.first_sent_at,
        int(record.uncertain),
        record.completed_at,
        codec.encode_state("result", record.result),
        record.ref,
        codec.encode_state("notes", record.notes),
    )


def get(
    conn: sqlite3.Connection, flow_id: str, component_id: str, correlation_id: str, digest: str
) -> EffectRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM effects WHERE flow_id = ? AND component_id = ?"
        " AND correlation_id = ? AND digest = ?",
        (flow_id, component_id, correlation_id, digest),
    ).fetchone()
    if row is None:
        return None
    (flow, component, correlation, name, updated, attempts, first_sent, uncertain, completed,
     result_json, ref, notes_json) = row  # fmt: skip
    return EffectRecord(
        flow_id=flow,
        component_id=component,
        correlation_id=correlation,
        digest=name,
        updated_at=float(updated),
        attempts=int(attempts),
        first_sent_at=None if first_sent is None else float(first_sent),
        uncertain=bool(uncertain),
        completed_at=None if completed is None else float(completed),
        result=codec.decode(result_json),
        ref=ref,
        notes=codec.decode(notes_json),
    )


def put(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    conn.execute(f"INSERT OR REPLACE INTO effects ({_COLUMNS}) VALUES ({', '.join('?' * 12)})", row)


def put_all(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(
        f"INSERT OR REPLACE INTO effects ({_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows
    )


def claim(conn: sqlite3.Connection, row: tuple[Any, ...]) -> bool:
    """Insert ``row``, or replace the kept one if it is not done and has one attempt fewer."""
    cursor = conn.execute(
        f"INSERT INTO effects ({_COLUMNS}) VALUES ({', '.join('?' * 12)})"
        " ON CONFLICT (flow_id, component_id, correlation_id, digest) DO UPDATE SET"
        " updated_at = excluded.updated_at, attempts = excluded.attempts,"
        " first_sent_at = excluded.first_sent_at, uncertain = excluded.uncertain,"
        " completed_at = excluded.completed_at, result_json = excluded.result_json,"
        " ref = excluded.ref, notes_json = excluded.notes_json"
        " WHERE effects.completed_at IS NULL AND effects.attempts = excluded.attempts - 1",
        row,
    )
    return cursor.rowcount > 0


def claimed(conn: sqlite3.Connection, refs: Collection[str]) -> set[str]:
    wanted = list(dict.fromkeys(refs))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(
            f"SELECT ref FROM effects WHERE ref IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update(str(ref) for (ref,) in rows)
    return found


def prune(conn: sqlite3.Connection, before: float, uncertain_before: float) -> int:
    return conn.execute(
        "DELETE FROM effects WHERE updated_at < ? AND (uncertain = 0 OR updated_at < ?)",
        (before, uncertain_before),
    ).rowcount
