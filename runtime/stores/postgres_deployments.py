"""The PostgreSQL store's deployed flows (``flows``) and hook secret digests (``hooks``); see
:class:`~runtime.stores.contracts.ServerStore`. A mixin of
:class:`~runtime.stores.postgres.PostgresStore`.

A flow and its hooks change in one transaction; the flow's row, written first, stays locked
until it commits, so two processes deploying one flow at once take turns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from runtime.stores.contracts import FlowRow
from runtime.stores.postgres_letters import affected

if TYPE_CHECKING:
    import asyncpg

_COLUMNS: Final = "id, definition_json, status, updated_at"


def _flow(row: asyncpg.Record) -> FlowRow:
    return FlowRow(row["id"], row["definition_json"], row["status"], row["updated_at"])


class PostgresDeploymentRows:
    """The :class:`~runtime.stores.contracts.ServerStore` part of the PostgreSQL store."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

    async def save_flow(
        self, flow_id: str, definition_json: str, hooks: Mapping[str, str], *, status: str
    ) -> set[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO flows ({_COLUMNS}) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (id) DO UPDATE SET definition_json = excluded.definition_json,"
                " updated_at = excluded.updated_at",
                flow_id,
                definition_json,
                status,
                time.time(),
            )
            kept = {
                row["component_id"]
                for row in await conn.fetch(
                    "SELECT component_id FROM hooks WHERE flow_id = $1", flow_id
                )
            }
            await conn.execute(
                "DELETE FROM hooks WHERE flow_id = $1 AND NOT component_id = ANY($2::text[])",
                flow_id,
                list(hooks),
            )
            created = {component_id for component_id in hooks if component_id not in kept}
            await conn.executemany(
                "INSERT INTO hooks (flow_id, component_id, secret_hash) VALUES ($1, $2, $3)",
                [(flow_id, component_id, hooks[component_id]) for component_id in sorted(created)],
            )
        return created

    async def get_flow(self, flow_id: str) -> FlowRow | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM flows WHERE id = $1", flow_id)
        return None if row is None else _flow(row)

    async def list_flows(self) -> list[FlowRow]:
        return [
            _flow(row)
            for row in await self.pool.fetch(
                f'SELECT {_COLUMNS} FROM flows ORDER BY id COLLATE "C"'
            )
        ]

    async def flow_statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        rows = await self.pool.fetch(
            'SELECT id, status FROM flows WHERE id COLLATE "C" > $1'
            ' ORDER BY id COLLATE "C" LIMIT $2',
            after or "",
            limit,
        )
        return [(str(row["id"]), str(row["status"])) for row in rows]

    async def set_flow_status(self, flow_id: str, status: str) -> bool:
        result = await self.pool.execute(
            "UPDATE flows SET status = $2, updated_at = $3 WHERE id = $1",
            flow_id,
            status,
            time.time(),
        )
        return affected(result) > 0

    async def delete_flow(self, flow_id: str) -> bool:
        # The flow's hooks go with it (ON DELETE CASCADE), in this one statement.
        return affected(await self.pool.execute("DELETE FROM flows WHERE id = $1", flow_id)) > 0

    async def hook_secret_hash(self, flow_id: str, component_id: str) -> str | None:
        found = await self.pool.fetchval(
            "SELECT secret_hash FROM hooks WHERE flow_id = $1 AND component_id = $2",
            flow_id,
            component_id,
        )
        return None if found is None else str(found)
