"""The SQLite store's auth records: the vault (``accounts``), app configuration (``app_config``)
and OAuth login states (``oauth_states``); see :mod:`runtime.stores.contracts`.

A mixin of :class:`~runtime.stores.sqlite.SQLiteStore`: every statement runs on the store's
thread. A conditional write is one ``UPDATE ... WHERE version = ?`` (or ``INSERT ... DO
NOTHING``), so a stale writer is refused by the database itself, whichever process it is in.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from runtime.stores.contracts import AccountRow, ConfigRow, LoginStateRow, SealedTokens
from runtime.stores.refresh_locks import file_lock

T = TypeVar("T")

_ACCOUNT_COLUMNS: Final = "service, name, status, scopes, expires_at, updated_at, reason, version"
_UPSERT: Final = (
    "INSERT INTO accounts (service, name, sealed_tokens, status, scopes, expires_at, reason,"
    " updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (service, name) DO"
)
_REPLACE: Final = (
    " UPDATE SET sealed_tokens = excluded.sealed_tokens, status = excluded.status,"
    " scopes = excluded.scopes, expires_at = excluded.expires_at, reason = excluded.reason,"
    " updated_at = excluded.updated_at, version = accounts.version + 1"
)
_UPDATE: Final = (
    "UPDATE accounts SET sealed_tokens = ?, status = ?, scopes = ?, expires_at = ?, reason = ?,"
    " updated_at = ?, version = version + 1 WHERE service = ? AND name = ? AND version = ?"
)


def _account(row: tuple[Any, ...]) -> AccountRow:
    service, name, status, scopes, expires_at, updated_at, reason, version = row
    return AccountRow(
        service=str(service),
        name=str(name),
        status=str(status),
        scopes=tuple(json.loads(scopes)),
        expires_at=None if expires_at is None else float(expires_at),
        updated_at=float(updated_at),
        reason=None if reason is None else str(reason),
        version=int(version),
    )


def _save(
    conn: sqlite3.Connection,
    row: AccountRow,
    sealed: bytes,
    expected: int | None,
    only_new: bool,
) -> bool:
    values = (row.status, json.dumps(list(row.scopes)), row.expires_at, row.reason, time.time())
    if expected is not None:
        params = (sealed, *values, row.service, row.name, expected)
        return conn.execute(_UPDATE, params).rowcount > 0
    statement = _UPSERT + (" NOTHING" if only_new else _REPLACE)
    return conn.execute(statement, (row.service, row.name, sealed, *values)).rowcount > 0


def _mark(
    conn: sqlite3.Connection,
    service: str,
    name: str,
    status: str,
    reason: str | None,
    expected: int | None,
) -> bool:
    update = (
        "UPDATE accounts SET status = ?, reason = ?, updated_at = ?, version = version + 1"
        " WHERE service = ? AND name = ?"
    )
    params: tuple[Any, ...] = (status, reason, time.time(), service, name)
    if expected is not None:
        update += " AND version = ?"
        params += (expected,)
    return conn.execute(update, params).rowcount > 0


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    # IMMEDIATE takes the write lock first: no other process writes between our read and write.
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


def _reseal_accounts(reseal: Callable[[bytes], bytes], conn: sqlite3.Connection) -> int:
    rows = conn.execute("SELECT service, name, sealed_tokens FROM accounts").fetchall()
    conn.executemany(
        "UPDATE accounts SET sealed_tokens = ?, version = version + 1"
        " WHERE service = ? AND name = ?",
        [(reseal(bytes(sealed)), service, name) for service, name, sealed in rows],
    )
    return len(rows)


def _put_config(rows: Sequence[ConfigRow], conn: sqlite3.Connection) -> None:
    now = time.time()
    conn.executemany(
        "INSERT INTO app_config (service, key, value, secret, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (service, key) DO UPDATE SET"
        " value = excluded.value, secret = excluded.secret, updated_at = excluded.updated_at",
        [(r.service, r.key, r.value, int(r.secret), now) for r in rows],
    )


def _reseal_config(reseal: Callable[[str], str], conn: sqlite3.Connection) -> int:
    rows = conn.execute("SELECT service, key, value FROM app_config WHERE secret = 1").fetchall()
    conn.executemany(
        "UPDATE app_config SET value = ? WHERE service = ? AND key = ?",
        [(reseal(str(value)), service, key) for service, key, value in rows],
    )
    return len(rows)


def _take_state(state_hash: str, conn: sqlite3.Connection) -> LoginStateRow | None:
    row = conn.execute(
        "SELECT state_hash, service, account, redirect_uri, binding_hash, scopes, expires_at"
        " FROM oauth_states WHERE state_hash = ?",
        (state_hash,),
    ).fetchone()
    conn.execute("DELETE FROM oauth_states WHERE state_hash = ?", (state_hash,))
    if row is None:
        return None
    found, service, account, uri, binding, options, expires_at = row
    return LoginStateRow(
        str(found),
        str(service),
        None if account is None else str(account),
        str(uri),
        str(binding),
        str(options),
        float(expires_at),
    )


def _add_state(conn: sqlite3.Connection, row: LoginStateRow, now: float) -> None:
    conn.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO oauth_states (state_hash, service, account, redirect_uri, binding_hash,"
        " scopes, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            row.state_hash,
            row.service,
            row.account,
            row.redirect_uri,
            row.binding_hash,
            row.options,
            row.expires_at,
        ),
    )


class SQLiteAuthRows:
    """The :class:`~runtime.stores.contracts.AuthStore` part of the SQLite store."""

    _conn: sqlite3.Connection
    path: str

    if TYPE_CHECKING:

        async def _run(self, work: Callable[..., T], *args: Any) -> T: ...

    # -- the vault ----------------------------------------------------------------------------

    def _sealed(self, service: str, name: str) -> SealedTokens | None:
        row = self._conn.execute(
            "SELECT sealed_tokens, version FROM accounts WHERE service = ? AND name = ?",
            (service, name),
        ).fetchone()
        return None if row is None else SealedTokens(bytes(row[0]), int(row[1]))

    async def sealed_tokens(self, service: str, name: str) -> SealedTokens | None:
        return await self._run(self._sealed, service, name)

    async def save_account(
        self,
        row: AccountRow,
        sealed: bytes,
        *,
        expected_version: int | None = None,
        only_new: bool = False,
    ) -> bool:
        return await self._run(_save, self._conn, row, sealed, expected_version, only_new)

    def _accounts(self, service: str | None) -> list[AccountRow]:
        query = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
        params: tuple[str, ...] = ()
        if service is not None:
            query += " WHERE service = ?"
            params = (service,)
        rows = self._conn.execute(query + " ORDER BY service, name", params).fetchall()
        return [_account(row) for row in rows]

    async def list_accounts(self, service: str | None = None) -> list[AccountRow]:
        return await self._run(self._accounts, service)

    async def mark_account(
        self,
        service: str,
        name: str,
        status: str,
        reason: str | None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        return await self._run(_mark, self._conn, service, name, status, reason, expected_version)

    def _delete_account(self, service: str, name: str) -> bool:
        cursor = self._conn.execute(
            "DELETE FROM accounts WHERE service = ? AND name = ?", (service, name)
        )
        return cursor.rowcount > 0

    async def delete_account(self, service: str, name: str) -> bool:
        return await self._run(self._delete_account, service, name)

    async def reseal_accounts(self, reseal: Callable[[bytes], bytes]) -> int:
        return await self._run(_in_transaction, self._conn, _bind(_reseal_accounts, reseal))

    def refresh_lock(self, service: str, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        # One lock file for the database: refreshes are rare and short, so per-account
        # locks would buy nothing.
        return file_lock(self.path)

    # -- app configuration --------------------------------------------------------------------

    def _config(self, service: str | None) -> list[ConfigRow]:
        query = "SELECT service, key, value, secret FROM app_config"
        params: tuple[str, ...] = ()
        if service is not None:
            query += " WHERE service = ?"
            params = (service,)
        rows = self._conn.execute(query + " ORDER BY service, key", params).fetchall()
        return [ConfigRow(str(s), str(k), str(v), bool(secret)) for s, k, v, secret in rows]

    async def app_config_rows(self, service: str | None = None) -> list[ConfigRow]:
        return await self._run(self._config, service)

    async def put_app_config(self, rows: Sequence[ConfigRow]) -> None:
        await self._run(_in_transaction, self._conn, _bind(_put_config, list(rows)))

    def _delete_config(self, service: str, keys: list[str]) -> None:
        if not keys:
            self._conn.execute("DELETE FROM app_config WHERE service = ?", (service,))
            return
        self._conn.executemany(
            "DELETE FROM app_config WHERE service = ? AND key = ?", [(service, k) for k in keys]
        )

    async def delete_app_config(self, service: str, keys: Collection[str] = ()) -> None:
        await self._run(self._delete_config, service, list(keys))

    async def reseal_app_config(self, reseal: Callable[[str], str]) -> int:
        return await self._run(_in_transaction, self._conn, _bind(_reseal_config, reseal))

    # -- OAuth login states -------------------------------------------------------------------

    async def add_login_state(self, row: LoginStateRow, *, now: float) -> None:
        await self._run(_add_state, self._conn, row, now)

    async def take_login_state(self, state_hash: str) -> LoginStateRow | None:
        # Read and delete in one write transaction: of two callers with one state, one gets it.
        return await self._run(_in_transaction, self._conn, _bind(_take_state, state_hash))


def _bind(
    work: Callable[[Any, sqlite3.Connection], T], argument: Any
) -> Callable[[sqlite3.Connection], T]:
    return lambda conn: work(argument, conn)
