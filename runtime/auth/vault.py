"""The token vault: each account's tokens, sealed at rest, in the store's ``accounts`` table.

A service may have several accounts, each by name (e.g. the Pinterest username). The access
and refresh tokens are kept only inside one sealed blob per account; the status, the scopes
and the expiry are plain columns, so accounts can be listed without opening any secret.

Several processes may share the vault (``serve`` and ``call``). Each save seals anew (a random
IV), so the sealed blob's digest is a version of the account's record: :meth:`TokenVault.stored`
gives it, and :meth:`TokenVault.save` and :meth:`TokenVault.mark_needs_reauthorization` can be
made conditional on it (compare-and-set in one write transaction).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from runtime.auth.account_names import check_account_name
from runtime.auth.refresh_lock import refresh_lock
from runtime.errors import ConfigurationError
from runtime.redaction import redact_text

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

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


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """An account's tokens with the version of the record they were read from."""

    tokens: TokenSet
    version: str


class AccountExistsError(ConfigurationError):
    """A login would replace the tokens of an account already connected under that name."""


def _version(sealed: bytes) -> str:
    return hashlib.sha256(sealed).hexdigest()


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


_UPSERT: Final = (
    "INSERT INTO accounts (service, name, sealed_tokens, status, scopes, expires_at, reason,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (service, name) DO UPDATE"
    " SET sealed_tokens = excluded.sealed_tokens, status = excluded.status,"
    " scopes = excluded.scopes, expires_at = excluded.expires_at, reason = NULL,"
    " updated_at = excluded.updated_at"
)


def _save(conn: sqlite3.Connection, row: tuple[Any, ...], expected: str | None, new: bool) -> bool:
    if expected is None and not new:
        conn.execute(_UPSERT, row)
        return True
    # Read, compare and write in one write transaction: no other process saves in between.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _sealed(conn, row[0], row[1])
        if new and current is not None:
            conn.execute("ROLLBACK")
            return False
        if expected is not None and (current is None or _version(current) != expected):
            conn.execute("ROLLBACK")
            return False
        conn.execute(_UPSERT, row)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


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


def _mark(
    conn: sqlite3.Connection, service: str, account: str, reason: str, version: str | None
) -> bool:
    update = (
        "UPDATE accounts SET status = ?, reason = ?, updated_at = ? WHERE service = ? AND name = ?"
    )
    params = (NEEDS_REAUTHORIZATION, reason, time.time(), service, account)
    if version is None:
        return conn.execute(update, params).rowcount > 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _sealed(conn, service, account)
        changed = current is None or _version(current) != version
        marked = not changed and conn.execute(update, params).rowcount > 0
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return marked


def already_connected(service: str, account: str) -> str:
    """Why a login to an existing account name is refused, and how to replace it."""
    short = service.split(":", 1)[-1]
    return (
        f"{service} already has an account {account!r}; a login under that name would replace"
        f" its tokens: pass --replace (`flowmixer auth login {short} --account {account}"
        " --replace`), or replace=true to the server, to do so, or choose another name"
    )


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

    async def save(
        self,
        service: str,
        account: str,
        tokens: TokenSet,
        *,
        expected: str | None = None,
        replace: bool = True,
    ) -> bool:
        """Keep ``tokens`` for ``account``, marked connected; whether they were kept.

        With ``expected`` (a :attr:`StoredTokens.version`), only when the record is still that
        version (another process may have saved newer tokens). With ``replace=False``, only
        when there is no such account yet (:class:`AccountExistsError` otherwise).
        """
        if expected is None:  # a refresh keeps the name it was connected under
            check_account_name(account)
        row = (
            service,
            account,
            self._box.seal(_pack(tokens)),
            CONNECTED,
            json.dumps(list(tokens.scopes)),
            tokens.expires_at,
            time.time(),
        )
        new = not replace
        saved = await self._store.with_connection(lambda conn: _save(conn, row, expected, new))
        if new and not saved:
            raise AccountExistsError(already_connected(service, account))
        return saved

    async def load(self, service: str, account: str) -> TokenSet | None:
        """The tokens of ``account`` (whatever its status), or ``None`` when it is unknown."""
        stored = await self.stored(service, account)
        return None if stored is None else stored.tokens

    async def stored(self, service: str, account: str) -> StoredTokens | None:
        """The tokens of ``account`` and their record's version, or ``None`` when unknown."""
        sealed = await self._store.with_connection(lambda conn: _sealed(conn, service, account))
        if sealed is None:
            return None
        return StoredTokens(_unpack(service, account, self._box.open(sealed)), _version(sealed))

    def refresh_lock(self) -> AbstractAsyncContextManager[bool]:
        """Held while refreshing: one refresh at a time among the processes sharing the
        database (see :mod:`runtime.auth.refresh_lock`)."""
        return refresh_lock(self._store.path)

    async def account(self, service: str, account: str) -> AccountRecord | None:
        """The record of one account, or ``None``."""
        for record in await self.accounts(service):
            if record.name == account:
                return record
        return None

    async def accounts(self, service: str | None = None) -> list[AccountRecord]:
        """The accounts (of ``service``, or all), by service then name."""
        return await self._store.with_connection(lambda conn: _accounts(conn, service))

    async def mark_needs_reauthorization(
        self, service: str, account: str, reason: str, *, version: str | None = None
    ) -> bool:
        """Record that a person must connect ``account`` again, and why (secrets removed
        from ``reason``); whether it was marked. An unknown account is left alone, and so is
        one whose record is no longer ``version`` when that is given."""
        safe = redact_text(reason)
        return await self._store.with_connection(
            lambda conn: _mark(conn, service, account, safe, version)
        )

    async def delete(self, service: str, account: str) -> bool:
        """Forget ``account`` and its tokens; whether it existed."""
        return await self._store.with_connection(lambda conn: _delete(conn, service, account))

    async def reseal(self) -> int:
        """Seal every account's tokens again with the box's first key; how many accounts."""
        return await self._store.with_connection(lambda conn: _reseal(conn, self._box))
