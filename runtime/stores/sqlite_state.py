"""The SQL of component state writes, plain or fenced by a version.

Run on the store's thread by :class:`~runtime.stores.sqlite.SQLiteStore` and inside the durable
broker's transactions (a tick's state writes commit with its messages). A fenced write is one
conditional statement, so a writer holding an older version changes nothing, in any process.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

from runtime.errors import StaleStateError


def write_state(
    conn: sqlite3.Connection,
    flow_id: str,
    component_id: str,
    key: str,
    value_json: str | None,
    expected_version: int | None = None,
) -> None:
    """Store one state value (JSON text from ``codec.encode_state``), or delete it for ``None``;
    with ``expected_version``, only while the stored version is that one (0: absent), else
    :class:`~runtime.errors.StaleStateError` (the caller's transaction then rolls back).

    For code that runs on the store's thread (``with_connection``) and writes state in the same
    transaction as its own tables: the durable broker's tick commits.
    """
    address = (flow_id, component_id, key)
    if expected_version is not None and expected_version > 0:
        # One conditional statement: a writer that read an older version changes nothing.
        if value_json is None:
            cursor = conn.execute(_DELETE_STATE + " AND version = ?", (*address, expected_version))
        else:
            cursor = conn.execute(
                "UPDATE state SET value_json = ?, updated_at = ?, version = version + 1"
                " WHERE flow_id = ? AND component_id = ? AND key = ? AND version = ?",
                (value_json, time.time(), *address, expected_version),
            )
        if cursor.rowcount == 0:
            raise StaleStateError(flow_id, component_id, key, expected_version)
        return
    if value_json is None:
        conn.execute(_DELETE_STATE, address)
        if expected_version == 0 and _state_version(conn, address) is not None:
            raise StaleStateError(flow_id, component_id, key, expected_version)
        return
    conflict = " NOTHING" if expected_version == 0 else _UPSERT_STATE
    cursor = conn.execute(
        "INSERT INTO state (flow_id, component_id, key, value_json, updated_at, version)"
        " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (flow_id, component_id, key) DO" + conflict,
        (*address, value_json, time.time()),
    )
    if expected_version == 0 and cursor.rowcount == 0:
        raise StaleStateError(flow_id, component_id, key, expected_version)


_DELETE_STATE: Final = "DELETE FROM state WHERE flow_id = ? AND component_id = ? AND key = ?"
_UPSERT_STATE: Final = (
    " UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at,"
    " version = state.version + 1"
)


def _state_version(conn: sqlite3.Connection, address: tuple[str, str, str]) -> int | None:
    row = conn.execute(
        "SELECT version FROM state WHERE flow_id = ? AND component_id = ? AND key = ?", address
    ).fetchone()
    return None if row is None else int(row[0])
