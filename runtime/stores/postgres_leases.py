"""The PostgreSQL store's leases (``leases``; see :mod:`runtime.stores.leases`): a mixin of
:class:`~runtime.stores.postgres.PostgresStore`, and the fence the durable broker's tick
commits check.

A grant is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``, each change one conditional
``UPDATE``, all judged by the database's clock, so every machine agrees on expiry. The fence
reads the lease ``FOR SHARE``: a grant to another owner waits until the fenced transaction has
committed, so a tick commits only while its lease holds, never after it passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from runtime.errors import LeaseLostError
from runtime.stores.leases import Lease, check_lease_args, check_ttl
from runtime.stores.postgres_letters import affected

if TYPE_CHECKING:
    from collections.abc import Sequence

    import asyncpg

    from runtime.brokers.base import StateWrite
    from runtime.stores.postgres_letters import Conn

_NOW: Final = "extract(epoch FROM clock_timestamp())::double precision"
_CURRENT: Final = "WHERE name = $1 AND owner = $2 AND token = $3"
# Granted when free (no row), expired, or already the caller's; the token grows at each grant.
_ACQUIRE: Final = (
    "INSERT INTO leases AS l (name, owner, token, expires_at)"
    f" VALUES ($1, $2, 1, {_NOW} + $3::double precision)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = l.token + 1,"
    f" expires_at = excluded.expires_at WHERE l.owner = excluded.owner OR l.expires_at <= {_NOW}"
    " RETURNING token, expires_at"
)


async def fence(conn: Conn, lease: Lease) -> None:
    """Inside a transaction: :class:`~runtime.errors.LeaseLostError` unless ``lease`` still
    holds its name with its token; the row stays share-locked until the transaction ends."""
    found = await conn.fetchval(
        f"SELECT 1 FROM leases {_CURRENT} FOR SHARE", lease.name, lease.owner, lease.token
    )
    if found is None:
        raise LeaseLostError(lease.name, lease.token)


class PostgresLeaseRows:
    """The :class:`~runtime.stores.leases.LeaseStore` part of the PostgreSQL store."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def acquire(self, name: str, owner: str, ttl: float) -> Lease | None:
        check_lease_args(name, owner, ttl)
        row = await self.pool.fetchrow(_ACQUIRE, name, owner, float(ttl))
        if row is None:
            return None
        return Lease(name, owner, int(row["token"]), float(row["expires_at"]))

    async def renew(self, lease: Lease, ttl: float) -> bool:
        check_ttl(ttl)
        status = await self.pool.execute(
            f"UPDATE leases SET expires_at = {_NOW} + $4::double precision {_CURRENT}",
            lease.name,
            lease.owner,
            lease.token,
            float(ttl),
        )
        return affected(status) > 0

    async def release(self, lease: Lease) -> bool:
        # The row stays, with its token, so the next grant's token is still greater.
        status = await self.pool.execute(
            f"UPDATE leases SET owner = '', expires_at = 0 {_CURRENT}",
            lease.name,
            lease.owner,
            lease.token,
        )
        return affected(status) > 0

    async def holder(self, name: str) -> Lease | None:
        row = await self.pool.fetchrow(
            f"SELECT owner, token, expires_at FROM leases WHERE name = $1 AND expires_at > {_NOW}",
            name,
        )
        if row is None:
            return None
        return Lease(name, row["owner"], int(row["token"]), float(row["expires_at"]))

    async def commit_tick_state(self, writes: Sequence[StateWrite], lease: Lease) -> None:
        # Imported here: the messages' SQL imports this module's fence.
        from runtime.stores.postgres_messages import write_state

        async with self.pool.acquire() as conn, conn.transaction():
            await fence(conn, lease)
            for flow_id, component_id, key, value_json, expected in writes:
                await write_state(conn, flow_id, component_id, key, value_json, expected)
