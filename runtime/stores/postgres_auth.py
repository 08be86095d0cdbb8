"""The PostgreSQL store's auth records: the vault (``accounts``), app configuration
(``app_config``) and OAuth login states (``oauth_states``); see :mod:`runtime.stores.contracts`.

A mixin of :class:`~runtime.stores.postgres.PostgresStore`. The guarantees are the SQLite
store's, made by the database whichever process writes: a conditional vault write is one
``UPDATE ... WHERE version = $n`` (or an insert that does nothing), a login state is taken by
one ``DELETE ... RETURNING``, and a reseal holds the rows it rewrites (``FOR UPDATE``) until
it commits. A refresh lock is a session advisory lock on a pooled connection, keyed by the
account: the database drops it when the holder's connection goes, even by ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Final

from runtime.stores.contracts import AccountRow, ConfigRow, LoginStateRow, SealedTokens
from runtime.stores.postgres_letters import affected
from runtime.stores.refresh_locks import LOCK_WAIT, POLL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import asyncpg

_ACCOUNT_COLUMNS: Final = "service, name, status, scopes, expires_at, updated_at, reason, version"
_UPSERT: Final = (
    "INSERT INTO accounts (service, name, sealed_tokens, status, scopes, expires_at, reason,"
    " updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)"
    " ON CONFLICT (service, name) DO"
)
_REPLACE: Final = (
    " UPDATE SET sealed_tokens = excluded.sealed_tokens, status = excluded.status,"
    " scopes = excluded.scopes, expires_at = excluded.expires_at, reason = excluded.reason,"
    " updated_at = excluded.updated_at, version = accounts.version + 1"
)
_UPDATE: Final = (
    "UPDATE accounts SET sealed_tokens = $3, status = $4, scopes = $5, expires_at = $6,"
    " reason = $7, updated_at = $8, version = version + 1"
    " WHERE service = $1 AND name = $2 AND version = $9"
)
_MARK: Final = (
    "UPDATE accounts SET status = $3, reason = $4, updated_at = $5, version = version + 1"
    " WHERE service = $1 AND name = $2"
)
_STATE_COLUMNS: Final = (
    "state_hash, service, account, redirect_uri, binding_hash, options, expires_at"
)
# One bigint advisory key per account: the hash of a text no other lock of flowmixer uses.
_TRY_LOCK: Final = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_UNLOCK: Final = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def _account(row: asyncpg.Record) -> AccountRow:
    return AccountRow(
        service=row["service"],
        name=row["name"],
        status=row["status"],
        scopes=tuple(json.loads(row["scopes"])),
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        version=int(row["version"]),
    )


def _lock_key(service: str, name: str) -> str:
    return "flowmixer refresh " + json.dumps([service, name])


class PostgresAuthRows:
    """The :class:`~runtime.stores.contracts.AuthStore` part of the PostgreSQL store."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    # -- the vault ----------------------------------------------------------------------------

    async def sealed_tokens(self, service: str, name: str) -> SealedTokens | None:
        row = await self.pool.fetchrow(
            "SELECT sealed_tokens, version FROM accounts WHERE service = $1 AND name = $2",
            service,
            name,
        )
        return None if row is None else SealedTokens(bytes(row[0]), int(row[1]))

    async def save_account(
        self,
        row: AccountRow,
        sealed: bytes,
        *,
        expected_version: int | None = None,
        only_new: bool = False,
    ) -> bool:
        scopes = json.dumps(list(row.scopes))
        values = (row.service, row.name, bytes(sealed), row.status, scopes, row.expires_at)
        if expected_version is not None:
            status = await self.pool.execute(
                _UPDATE, *values, row.reason, time.time(), expected_version
            )
        else:
            statement = _UPSERT + (" NOTHING" if only_new else _REPLACE)
            status = await self.pool.execute(statement, *values, row.reason, time.time())
        return affected(status) > 0

    async def list_accounts(self, service: str | None = None) -> list[AccountRow]:
        query = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
        if service is None:
            rows = await self.pool.fetch(query + ' ORDER BY service COLLATE "C", name COLLATE "C"')
        else:
            rows = await self.pool.fetch(
                query + ' WHERE service = $1 ORDER BY name COLLATE "C"', service
            )
        return [_account(row) for row in rows]

    async def mark_account(
        self,
        service: str,
        name: str,
        status: str,
        reason: str | None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        if expected_version is None:
            result = await self.pool.execute(_MARK, service, name, status, reason, time.time())
        else:
            result = await self.pool.execute(
                _MARK + " AND version = $6",
                service,
                name,
                status,
                reason,
                time.time(),
                expected_version,
            )
        return affected(result) > 0

    async def delete_account(self, service: str, name: str) -> bool:
        status = await self.pool.execute(
            "DELETE FROM accounts WHERE service = $1 AND name = $2", service, name
        )
        return affected(status) > 0

    async def reseal_accounts(self, reseal: Callable[[bytes], bytes]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            # FOR UPDATE: a save made meanwhile waits, and is not overwritten by its old value.
            rows = await conn.fetch("SELECT service, name, sealed_tokens FROM accounts FOR UPDATE")
            await conn.executemany(
                "UPDATE accounts SET sealed_tokens = $3, version = version + 1"
                " WHERE service = $1 AND name = $2",
                [(r["service"], r["name"], reseal(bytes(r["sealed_tokens"]))) for r in rows],
            )
        return len(rows)

    @contextlib.asynccontextmanager
    async def _advisory_lock(self, service: str, name: str) -> AsyncIterator[bool]:
        key = _lock_key(service, name)
        # A session lock lives on its connection: the same one is held until it is unlocked.
        async with self.pool.acquire() as conn:
            deadline = time.monotonic() + LOCK_WAIT
            held = bool(await conn.fetchval(_TRY_LOCK, key))
            while not held and time.monotonic() < deadline:
                await asyncio.sleep(POLL)  # polled: a blocking wait could not be given up
                held = bool(await conn.fetchval(_TRY_LOCK, key))
            try:
                yield held
            finally:
                if held:
                    await conn.fetchval(_UNLOCK, key)

    def refresh_lock(self, service: str, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        return self._advisory_lock(service, name)

    # -- app configuration --------------------------------------------------------------------

    async def app_config_rows(self, service: str | None = None) -> list[ConfigRow]:
        query = "SELECT service, key, value, secret FROM app_config"
        if service is None:
            rows = await self.pool.fetch(query + ' ORDER BY service COLLATE "C", key COLLATE "C"')
        else:
            rows = await self.pool.fetch(
                query + ' WHERE service = $1 ORDER BY key COLLATE "C"', service
            )
        return [ConfigRow(r["service"], r["key"], r["value"], r["secret"]) for r in rows]

    async def put_app_config(self, rows: Sequence[ConfigRow]) -> None:
        now = time.time()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO app_config (service, key, value, secret, updated_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service, key) DO UPDATE SET"
                " value = excluded.value, secret = excluded.secret,"
                " updated_at = excluded.updated_at",
                [(r.service, r.key, r.value, r.secret, now) for r in rows],
            )

    async def delete_app_config(self, service: str, keys: Collection[str] = ()) -> None:
        if not keys:
            await self.pool.execute("DELETE FROM app_config WHERE service = $1", service)
            return
        await self.pool.execute(
            "DELETE FROM app_config WHERE service = $1 AND key = ANY($2::text[])",
            service,
            list(keys),
        )

    async def reseal_app_config(self, reseal: Callable[[str], str]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT service, key, value FROM app_config WHERE secret FOR UPDATE"
            )
            await conn.executemany(
                "UPDATE app_config SET value = $3 WHERE service = $1 AND key = $2",
                [(r["service"], r["key"], reseal(r["value"])) for r in rows],
            )
        return len(rows)

    # -- OAuth login states -------------------------------------------------------------------

    async def add_login_state(self, row: LoginStateRow, *, now: float) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM oauth_states WHERE expires_at <= $1", now)
            await conn.execute(
                f"INSERT INTO oauth_states ({_STATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                row.state_hash,
                row.service,
                row.account,
                row.redirect_uri,
                row.binding_hash,
                row.options,
                row.expires_at,
            )

    async def take_login_state(self, state_hash: str) -> LoginStateRow | None:
        # One statement: of two callers (in any processes) with one state, one gets the row.
        row = await self.pool.fetchrow(
            f"DELETE FROM oauth_states WHERE state_hash = $1 RETURNING {_STATE_COLUMNS}",
            state_hash,
        )
        return None if row is None else LoginStateRow(*row.values())
