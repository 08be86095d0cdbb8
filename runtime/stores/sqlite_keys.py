"""The SQL of the ``hook_keys`` table: the idempotency keys of webhook events.

Functions of a connection, called on the store's thread (by
:class:`~runtime.stores.sqlite.SQLiteStore`, and by the durable broker inside the transaction
that commits the event, so that a crash cannot keep one without the other). The table is made
by a step of ``runtime.stores.sqlite_schema.MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
import time

from runtime.errors import DuplicateEventError
from runtime.stores.base import IdempotencyKey


def find(
    conn: sqlite3.Connection, flow_id: str, component_id: str, key: IdempotencyKey
) -> str | None:
    row = conn.execute(
        "SELECT event_id FROM hook_keys WHERE flow_id = ? AND component_id = ? AND key = ?"
        " AND created_at >= ?",
        (flow_id, component_id, key.value, key.since),
    ).fetchone()
    return None if row is None else str(row[0])


def write(
    conn: sqlite3.Connection, flow_id: str, component_id: str, key: IdempotencyKey, event_id: str
) -> None:
    """Record ``key`` for ``event_id``; :class:`DuplicateEventError` if it names another event
    within its window (raised inside the caller's transaction, which then rolls back)."""
    found = find(conn, flow_id, component_id, key)
    if found is not None:
        raise DuplicateEventError(found)
    conn.execute(
        "INSERT OR REPLACE INTO hook_keys (flow_id, component_id, key, event_id, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (flow_id, component_id, key.value, event_id, time.time()),
    )


def prune(conn: sqlite3.Connection, before: float) -> int:
    return conn.execute("DELETE FROM hook_keys WHERE created_at < ?", (before,)).rowcount


def delete_flow(conn: sqlite3.Connection, flow_id: str) -> int:
    return conn.execute("DELETE FROM hook_keys WHERE flow_id = ?", (flow_id,)).rowcount
