"""A store on PostgreSQL, shared by every process that opens the same database.

Calls go through an asyncpg connection pool. Every read-modify-write is one statement or one
transaction holding the rows it changes, so processes never undo each other: an effect is
claimed by one conditional upsert, ``take_retries`` deletes and returns in one statement (a
letter goes to one taker), an idempotency key is recorded or found taken by one upsert. The
SQL is split by concern: ``postgres_state`` (component state, fenced writes),
``postgres_letters`` (dead letters), ``postgres_effects`` (effects
and idempotency keys), ``postgres_auth`` (the vault, app configuration, login states, refresh
locks), ``postgres_deployments`` (flows and hook secrets), ``postgres_leases`` (leases of
polling triggers), ``postgres_schema`` (migrations).
Needs the ``postgres`` extra.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from runtime.errors import ConfigurationError
from runtime.stores import codec
from runtime.stores import postgres_effects as effects
from runtime.stores import postgres_letters as letters
from runtime.stores import postgres_state as state
from runtime.stores.letters import (
    EVERY_LETTER,
    DeadLetterCount,
    DeadLetterPage,
    DeadLetterQuery,
    check_limit,
    decode_cursor,
)
from runtime.stores.postgres_auth import PostgresAuthRows
from runtime.stores.postgres_copy import PostgresCopyRows
from runtime.stores.postgres_deployments import PostgresDeploymentRows
from runtime.stores.postgres_leases import PostgresLeaseRows
from runtime.stores.postgres_schema import migrate
from runtime.stores.urls import DatabaseUrl

if TYPE_CHECKING:
    import asyncpg

    from runtime.stores.base import DeadLetter, EffectRecord, IdempotencyKey, VersionedState


def import_driver() -> Any:
    """The asyncpg module; a :class:`ConfigurationError` naming the extra when missing."""
    try:
        import asyncpg
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// database needs asyncpg: pip install 'flowmixer[postgres]'"
        ) from None
    return asyncpg


def connect_error(url: str, exc: BaseException) -> ConfigurationError:
    """Why the database at ``url`` cannot be used, without its password."""
    where = DatabaseUrl("postgres", url).redacted()
    return ConfigurationError(f"cannot open the flowmixer database {where}: {exc}")


class PostgresStore(PostgresAuthRows, PostgresDeploymentRows, PostgresCopyRows, PostgresLeaseRows):
    """A :class:`~runtime.stores.base.Store` in a PostgreSQL database; make one with
    :meth:`open`."""

    ticks_by_lease: ClassVar[bool] = True
    """Processes on many machines share the database: each polling trigger ticks in the one
    holding its lease (:mod:`runtime.leases`)."""

    def __init__(self, pool: asyncpg.Pool, where: str, url: str = "", max_size: int = 10) -> None:
        self._pool = pool
        self.where = where  # the URL without its password, for messages
        self._closed = False
        self._url = url
        self._max_size = max_size
        # asyncpg's connections belong to the loop that made them: one more pool per further
        # loop using the store (the engine's own, under `flowmixer serve`).
        self._loop_pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        """Connect a pool of ``min_size`` to ``max_size`` connections to the database at
        ``url`` (``postgresql://...``) and bring its schema up to date; a database that
        cannot be reached, or whose schema is newer than this flowmixer, raises
        :class:`~runtime.errors.ConfigurationError`."""
        driver = import_driver()
        where = DatabaseUrl("postgres", url).redacted()
        try:
            pool: asyncpg.Pool = await driver.create_pool(url, min_size=min_size, max_size=max_size)
        except (OSError, driver.PostgresError, driver.InterfaceError) as exc:
            raise connect_error(url, exc) from None
        try:
            async with pool.acquire() as conn:
                await migrate(conn, where)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, where, url, max_size)

    async def join_loop(self) -> None:
        """Let the running event loop (another than the one that opened the store, on another
        thread) use the store: it gets a pool of its own. Call :meth:`leave_loop` on that
        loop before closing the store."""
        self._check_open()
        loop = asyncio.get_running_loop()
        if loop in self._loop_pools or not self._url:
            return
        driver = import_driver()
        try:
            pool = await driver.create_pool(self._url, min_size=1, max_size=self._max_size)
        except (OSError, driver.PostgresError, driver.InterfaceError) as exc:
            raise connect_error(self._url, exc) from None
        self._loop_pools[loop] = pool

    async def leave_loop(self) -> None:
        """Close the running loop's own pool (see :meth:`join_loop`)."""
        pool = self._loop_pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait for the calls under way, close the pool and refuse further use."""
        if self._closed:
            return
        self._closed = True
        await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        """The running loop's connection pool (for stores of other records on the same
        database)."""
        self._check_open()
        if self._loop_pools:
            return self._loop_pools.get(asyncio.get_running_loop(), self._pool)
        return self._pool

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the store for {self.where} is closed")

    # -- state ------------------------------------------------------------------------------

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any:
        text = await self.pool.fetchval(
            "SELECT value_json FROM state WHERE flow_id = $1 AND component_id = $2 AND key = $3",
            flow_id,
            component_id,
            key,
        )
        return None if text is None else codec.decode(text)

    async def get_versioned_state(
        self, flow_id: str, component_id: str, key: str
    ) -> VersionedState:
        return await state.get_versioned(self.pool, flow_id, component_id, key)

    async def set_state(
        self,
        flow_id: str,
        component_id: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> None:
        await state.write(self.pool, flow_id, component_id, key, value, expected_version)

    async def delete_state(self, flow_id: str, component_id: str, key: str) -> None:
        await self.pool.execute(
            "DELETE FROM state WHERE flow_id = $1 AND component_id = $2 AND key = $3",
            flow_id,
            component_id,
            key,
        )

    async def delete_flow_state(self, flow_id: str) -> int:
        status = await self.pool.execute("DELETE FROM state WHERE flow_id = $1", flow_id)
        return letters.affected(status)

    # -- dead letters (the SQL is in runtime.stores.postgres_letters) -------------------------

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep ``letter``; one with the same id is replaced."""
        envelope_json = codec.encode_envelope(letter.envelope)
        await self.pool.execute(letters.INSERT, *letters.insert_args(letter, envelope_json))

    async def list_dead_letters(
        self, *, flow_id: str | None = None, component_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally of one flow and/or component."""
        query = DeadLetterQuery(flow_id=flow_id, component_id=component_id)
        return (await self.find_dead_letters(query, limit=limit)).letters

    async def find_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER, *, limit: int = 100, cursor: str | None = None
    ) -> DeadLetterPage:
        check_limit(limit)
        if cursor is not None:
            decode_cursor(cursor)
        return await letters.find(self.pool, query, limit, cursor)

    async def count_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER
    ) -> list[DeadLetterCount]:
        return await letters.count(self.pool, query)

    async def request_retries(self, query: DeadLetterQuery) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            return await letters.act(conn, query, "UPDATE dead_letters SET retry_requested = true")

    async def delete_dead_letters(self, query: DeadLetterQuery) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            return await letters.act(conn, query, "DELETE FROM dead_letters")

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        row = await self.pool.fetchrow(
            f"SELECT {letters.COLUMNS} FROM dead_letters WHERE id = $1", letter_id
        )
        return None if row is None else letters.letter_from_row(row)

    async def delete_dead_letter(self, letter_id: str) -> bool:
        status = await self.pool.execute("DELETE FROM dead_letters WHERE id = $1", letter_id)
        return letters.affected(status) > 0

    async def request_retry(self, letter_id: str) -> bool:
        status = await self.pool.execute(
            "UPDATE dead_letters SET retry_requested = true WHERE id = $1", letter_id
        )
        return letters.affected(status) > 0

    async def take_retries(self, flow_id: str) -> list[DeadLetter]:
        """Remove and return ``flow_id``'s letters marked for retry, oldest first; one
        statement, so of two processes taking at once each letter goes to one."""
        return letters.oldest_first(await self.pool.fetch(letters.TAKE, flow_id))

    async def requested_retries(self, flow_id: str) -> list[DeadLetter]:
        rows = await self.pool.fetch(letters.REQUESTED, flow_id)
        return [letters.letter_from_row(row) for row in rows]

    # -- effects (the SQL is in runtime.stores.postgres_effects) -----------------------------

    async def get_effect(
        self, flow_id: str, component_id: str, correlation_id: str, digest: str
    ) -> EffectRecord | None:
        row = await self.pool.fetchrow(effects.GET, flow_id, component_id, correlation_id, digest)
        return None if row is None else effects.decode(row)

    async def put_effect(self, record: EffectRecord) -> None:
        await self.pool.execute(effects.PUT, *effects.encode(record))

    async def claim_effect(self, record: EffectRecord) -> bool:
        return await self.pool.fetchval(effects.CLAIM, *effects.encode(record)) is not None

    async def claimed_refs(self, refs: Collection[str]) -> set[str]:
        wanted = list(dict.fromkeys(refs))
        if not wanted:
            self._check_open()
            return set()
        return {row["ref"] for row in await self.pool.fetch(effects.CLAIMED, wanted)}

    async def prune_effects(self, before: float, *, uncertain_before: float | None = None) -> int:
        kept = before if uncertain_before is None else uncertain_before
        return letters.affected(await self.pool.execute(effects.PRUNE, before, kept))

    # -- idempotency keys of webhook events -------------------------------------------------

    async def find_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey
    ) -> str | None:
        found = await self.pool.fetchval(
            effects.FIND_KEY, flow_id, component_id, key.value, key.since
        )
        return None if found is None else str(found)

    async def add_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey, event_id: str
    ) -> None:
        await effects.add_key(self.pool, flow_id, component_id, key, event_id, time.time())

    async def prune_hook_keys(self, before: float) -> int:
        return letters.affected(await self.pool.execute(effects.PRUNE_KEYS, before))

    async def delete_hook_keys(self, flow_id: str) -> int:
        return letters.affected(await self.pool.execute(effects.DELETE_KEYS, flow_id))
