"""The token vault: each account's tokens, sealed at rest, in the store's ``accounts`` table.

A service may have several accounts, each by name (e.g. the Pinterest username). The access
and refresh tokens are kept only inside one sealed blob per account; the status, the scopes
and the expiry are plain columns, so accounts can be listed without opening any secret.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from runtime.errors import ConfigurationError
from runtime.redaction import redact_text

if TYPE_CHECKING:
    from runtime.auth.secretbox import SecretBox
    from runtime.stores.sqlite import SQLiteStore

CONNECTED: Final = "connected"
NEEDS_REAUTHORIZATION: Final = "needs_reauthorization"

_ACCOUNT_COLUMNS: Final = "service, name, status, scopes, expires_at, updated_at, reason"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint granted; the tokens are left out of ``repr``.

    ``expires_at`` and ``refresh_expires_at`` are Unix times (``None``: not said).
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    refresh_expires_at: float | None
    scopes: tuple[str, ...]
    token_type: str = "bearer"

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("a token set needs an access token")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One account of a service as listed (no secrets): ``status`` is ``"connected"`` or
    ``"needs_reauthorization"`` (then ``reason`` says why)."""

    service: str
    name: str
    status: str
    scopes: tuple[str, ...]
    expires_at: float | None
    updated_at: float
    reason: str | None


def _pack(tokens: TokenSet) -> bytes:
    return json.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
            "scopes": list(tokens.scopes),
            "token_type": tokens.token_type,
        },
        separators=(",", ":"),
    ).encode()


def _unpack(service: str, account: str, data: bytes) -> TokenSet:
    try:
        raw: dict[str, Any] = json.loads(data)
        return TokenSet(
            access_token=str(raw["access_token"]),
            refresh_token=None if raw["refresh_token"] is None else str(raw["refresh_token"]),
            expires_at=None if raw["expires_at"] is None else float(raw["expires_at"]),
            refresh_expires_at=(
                None if raw["refresh_expires_at"] is None else float(raw["refresh_expires_at"])
            ),
            scopes=tuple(str(s) for s in raw["scopes"]),
            token_type=str(raw["token_type"]),
        )
    except (ValueError, KeyError, TypeError):
        # No detail: the exception text could quote the tokens.
        raise ConfigurationError(
            f"the stored tokens of {service} account {account!r} are unreadable;"
            " connect the account again"
        ) from None


def _record(row: tuple[Any, ...]) -> AccountRecord:
    service, name, status, scopes, expires_at, updated_at, reason = row
    return AccountRecord(
        service=str(service),
        name=str(name),
        status=str(status),
        scopes=tuple(json.loads(scopes)),
        expires_at=None if expires_at is None else float(expires_at),
        updated_at=float(updated_at),
        reason=None if reason is None else str(reason),
    )


def _save(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    conn.execute(
        "INSERT INTO accounts (service, name, sealed_tokens, status, scopes, expires_at, reason,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (service, name) DO UPDATE"
        " SET sealed_tokens = excluded.sealed_tokens, status = excluded.status,"
        " scopes = excluded.scopes, expires_at = excluded.expires_at, reason = NULL,"
        " updated_at = excluded.updated_at",
        row,
    )


def _sealed(conn: sqlite3.Connection, service: str, account: str) -> bytes | None:
    row = conn.execute(
        "SELECT sealed_tokens FROM accounts WHERE service = ? AND name = ?", (service, account)
    ).fetchone()
    return None if row is None else bytes(row[0])


def _accounts(conn: sqlite3.Connection, service: str | None) -> list[AccountRecord]:
    query = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
    params: tuple[str, ...] = ()
    if service is not None:
        query += " WHERE service = ?"
        params = (service,)
    return [_record(row) for row in conn.execute(query + " ORDER BY service, name", params)]


def _mark(conn: sqlite3.Connection, service: str, account: str, reason: str) -> bool:
    cursor = conn.execute(
        "UPDATE accounts SET status = ?, reason = ?, updated_at = ? WHERE service = ? AND name = ?",
        (NEEDS_REAUTHORIZATION, reason, time.time(), service, account),
    )
    return cursor.rowcount > 0


def _delete(conn: sqlite3.Connection, service: str, account: str) -> bool:
    cursor = conn.execute("DELETE FROM accounts WHERE service = ? AND name = ?", (service, account))
    return cursor.rowcount > 0


def _reseal(conn: sqlite3.Connection, box: SecretBox) -> int:
    # One write transaction: a token saved meanwhile (a refresh) is not overwritten.
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute("SELECT service, name, sealed_tokens FROM accounts").fetchall()
        conn.executemany(
            "UPDATE accounts SET sealed_tokens = ? WHERE service = ? AND name = ?",
            [(box.reseal(bytes(sealed)), service, name) for service, name, sealed in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(rows)


class TokenVault:
    """The accounts of every service and their sealed tokens."""

    def __init__(self, store: SQLiteStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def save(self, service: str, account: str, tokens: TokenSet) -> None:
        """Keep ``tokens`` for ``account`` (replacing any), marked connected."""
        if not account:
            raise ConfigurationError(f"an account of {service} needs a name")
        row = (
            service,
            account,
            self._box.seal(_pack(tokens)),
            CONNECTED,
            json.dumps(list(tokens.scopes)),
            tokens.expires_at,
            time.time(),
        )
        await self._store.with_connection(lambda conn: _save(conn, row))

    async def load(self, service: str, account: str) -> TokenSet | None:
        """The tokens of ``account`` (whatever its status), or ``None`` when it is unknown."""
        sealed = await self._store.with_connection(lambda conn: _sealed(conn, service, account))
        return None if sealed is None else _unpack(service, account, self._box.open(sealed))

    async def account(self, service: str, account: str) -> AccountRecord | None:
        """The record of one account, or ``None``."""
        for record in await self.accounts(service):
            if record.name == account:
                return record
        return None

    async def accounts(self, service: str | None = None) -> list[AccountRecord]:
        """The accounts (of ``service``, or all), by service then name."""
        return await self._store.with_connection(lambda conn: _accounts(conn, service))

    async def mark_needs_reauthorization(self, service: str, account: str, reason: str) -> None:
        """Record that a person must connect ``account`` again, and why (secrets removed
        from ``reason``); an unknown account is left alone."""
        safe = redact_text(reason)
        await self._store.with_connection(lambda conn: _mark(conn, service, account, safe))

    async def delete(self, service: str, account: str) -> bool:
        """Forget ``account`` and its tokens; whether it existed."""
        return await self._store.with_connection(lambda conn: _delete(conn, service, account))

    async def reseal(self) -> int:
        """Seal every account's tokens again with the box's first key; how many accounts."""
        return await self._store.with_connection(lambda conn: _reseal(conn, self._box))
