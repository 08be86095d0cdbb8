"""The SQLite store's leases (``leases``; see :mod:`runtime.stores.leases`): a mixin of
:class:`~runtime.stores.sqlite.SQLiteStore`, and the fence the durable broker's tick commits
check. Each grant is one conditional upsert, each change one conditional update, so processes
sharing the file never both hold a name; expiry is judged by the machine's clock."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

from runtime.errors import LeaseLostError
from runtime.stores.leases import Lease, check_lease_args, check_ttl
from runtime.stores.sqlite_state import write_state

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from runtime.brokers.base import StateWrite

T = TypeVar("T")

# Granted when free (no row), expired, or already the caller's; the token grows at each grant.
_ACQUIRE: Final = (
    "INSERT INTO leases (name, owner, token, expires_at) VALUES (?, ?, 1, ?)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = leases.token + 1,"
    " expires_at = excluded.expires_at WHERE leases.owner = excluded.owner"
    " OR leases.expires_at <= ? RETURNING token"
)
_CURRENT: Final = "WHERE name = ? AND owner = ? AND token = ?"


def _acquire(name: str, owner: str, ttl: float, conn: sqlite3.Connection) -> Lease | None:
    now = time.time()
    row = conn.execute(_ACQUIRE, (name, owner, now + ttl, now)).fetchone()
    return None if row is None else Lease(name, owner, int(row[0]), now + ttl)


def _renew(lease: Lease, ttl: float, conn: sqlite3.Connection) -> bool:
    cursor = conn.execute(
        f"UPDATE leases SET expires_at = ? {_CURRENT}", (time.time() + ttl, *_key(lease))
    )
    return cursor.rowcount > 0


def _release(lease: Lease, conn: sqlite3.Connection) -> bool:
    # The row stays, with its token, so the next grant's token is still greater.
    cursor = conn.execute(f"UPDATE leases SET owner = '', expires_at = 0 {_CURRENT}", _key(lease))
    return cursor.rowcount > 0


def _holder(name: str, conn: sqlite3.Connection) -> Lease | None:
    row = conn.execute(
        "SELECT owner, token, expires_at FROM leases WHERE name = ? AND expires_at > ?",
        (name, time.time()),
    ).fetchone()
    return None if row is None else Lease(name, str(row[0]), int(row[1]), float(row[2]))


def fence(conn: sqlite3.Connection, lease: Lease) -> None:
    """Inside a write transaction: :class:`~runtime.errors.LeaseLostError` unless ``lease``
    still holds its name with its token (the caller's transaction then rolls back)."""
    if conn.execute(f"SELECT 1 FROM leases {_CURRENT}", _key(lease)).fetchone() is None:
        raise LeaseLostError(lease.name, lease.token)


def _commit_tick_state(
    writes: Sequence[StateWrite], lease: Lease, conn: sqlite3.Connection
) -> None:
    conn.execute("BEGIN IMMEDIATE")  # the write lock first: no grant can slip in between
    try:
        fence(conn, lease)
        for flow_id, component_id, key, value_json, expected in writes:
            write_state(conn, flow_id, component_id, key, value_json, expected)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _key(lease: Lease) -> tuple[str, str, int]:
    return (lease.name, lease.owner, lease.token)


class SQLiteLeaseRows:
    """The :class:`~runtime.stores.leases.LeaseStore` part of the SQLite store."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:

        async def _run(self, work: Callable[..., T], *args: Any) -> T: ...

    async def acquire(self, name: str, owner: str, ttl: float) -> Lease | None:
        check_lease_args(name, owner, ttl)
        return await self._run(_acquire, name, owner, ttl, self._conn)

    async def renew(self, lease: Lease, ttl: float) -> bool:
        check_ttl(ttl)
        return await self._run(_renew, lease, ttl, self._conn)

    async def release(self, lease: Lease) -> bool:
        return await self._run(_release, lease, self._conn)

    async def holder(self, name: str) -> Lease | None:
        return await self._run(_holder, name, self._conn)

    async def commit_tick_state(self, writes: Sequence[StateWrite], lease: Lease) -> None:
        await self._run(_commit_tick_state, list(writes), lease, self._conn)
