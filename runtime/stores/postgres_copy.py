"""The PostgreSQL store's side of ``flowmixer db copy`` (:mod:`runtime.stores.copy`): every
record of a kind read, or replaced in one transaction. A mixin of
:class:`~runtime.stores.postgres.PostgresStore`.

The tables are those of the SQLite store, with the same names and columns; flags are
``boolean`` and sealed values ``bytea`` here. A table the database's schema lacks is named in
a :class:`~runtime.errors.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from runtime.errors import ConfigurationError
from runtime.stores.copy import Kind, Row, normalized

if TYPE_CHECKING:
    import asyncpg

# A replaced dead letter keeps its place among those failing at the same time (seq, as rowid).
_ORDER: Final = {"dead_letters": " ORDER BY failed_at, seq"}


class PostgresCopyRows:
    """The :class:`~runtime.stores.copy.CopyableStore` part of the PostgreSQL store."""

    where: str

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    def _missing(self, kind: Kind) -> ConfigurationError:
        return ConfigurationError(
            f"the database {self.where} has no table {kind.table!r} for its {kind.label}:"
            " its schema is older than this copy needs"
        )

    async def _exists(self, kind: Kind) -> bool:
        return bool(await self.pool.fetchval("SELECT to_regclass($1) IS NOT NULL", kind.table))

    async def dump_records(self, kind: Kind) -> list[Row]:
        if not await self._exists(kind):
            raise self._missing(kind)
        query = f"SELECT {', '.join(kind.columns)} FROM {kind.table}{_ORDER.get(kind.table, '')}"
        return [normalized(kind, tuple(row)) for row in await self.pool.fetch(query)]

    async def load_records(self, kind: Kind, rows: Sequence[Row]) -> None:
        if not await self._exists(kind):
            raise self._missing(kind)
        marks = ", ".join(f"${n}" for n in range(1, len(kind.columns) + 1))
        insert = f"INSERT INTO {kind.table} ({', '.join(kind.columns)}) VALUES ({marks})"
        values: list[tuple[Any, ...]] = [tuple(row) for row in rows]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {kind.table}")
            if values:
                await conn.executemany(insert, values)

    async def count_records(self, kind: Kind) -> int:
        if not await self._exists(kind):
            return 0
        return int(await self.pool.fetchval(f"SELECT count(*) FROM {kind.table}"))
