"""The SQLite store's deployed flows (``flows``) and hook secret digests (``hooks``); see
:class:`~runtime.stores.contracts.ServerStore`. A mixin of
:class:`~runtime.stores.sqlite.SQLiteStore`: every statement runs on the store's thread."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.stores.contracts import FlowRow

T = TypeVar("T")


def _save(
    flow_id: str,
    definition_json: str,
    hooks: dict[str, str],
    status: str,
    conn: sqlite3.Connection,
) -> set[str]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO flows (id, definition_json, status, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET definition_json = excluded.definition_json,"
            " updated_at = excluded.updated_at",
            (flow_id, definition_json, status, time.time()),
        )
        kept = {
            str(row[0])
            for row in conn.execute("SELECT component_id FROM hooks WHERE flow_id = ?", (flow_id,))
        }
        conn.executemany(
            "DELETE FROM hooks WHERE flow_id = ? AND component_id = ?",
            [(flow_id, gone) for gone in kept - hooks.keys()],
        )
        created = {component_id for component_id in hooks if component_id not in kept}
        conn.executemany(
            "INSERT INTO hooks (flow_id, component_id, secret_hash) VALUES (?, ?, ?)",
            [(flow_id, component_id, hooks[component_id]) for component_id in sorted(created)],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return created


def _delete(flow_id: str, conn: sqlite3.Connection) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM hooks WHERE flow_id = ?", (flow_id,))
        deleted = conn.execute("DELETE FROM flows WHERE id = ?", (flow_id,)).rowcount > 0
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return deleted


def _flow(row: tuple[Any, ...]) -> FlowRow:
    flow_id, definition_json, status, updated_at = row
    return FlowRow(str(flow_id), str(definition_json), str(status), float(updated_at))


class SQLiteDeploymentRows:
    """The :class:`~runtime.stores.contracts.ServerStore` part of the SQLite store."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:

        async def _run(self, work: Callable[..., T], *args: Any) -> T: ...

    async def save_flow(
        self, flow_id: str, definition_json: str, hooks: Mapping[str, str], *, status: str
    ) -> set[str]:
        return await self._run(_save, flow_id, definition_json, dict(hooks), status, self._conn)

    def _get(self, flow_id: str) -> FlowRow | None:
        row = self._conn.execute(
            "SELECT id, definition_json, status, updated_at FROM flows WHERE id = ?", (flow_id,)
        ).fetchone()
        return None if row is None else _flow(row)

    async def get_flow(self, flow_id: str) -> FlowRow | None:
        return await self._run(self._get, flow_id)

    def _all(self) -> list[FlowRow]:
        rows = self._conn.execute(
            "SELECT id, definition_json, status, updated_at FROM flows ORDER BY id"
        ).fetchall()
        return [_flow(row) for row in rows]

    async def list_flows(self) -> list[FlowRow]:
        return await self._run(self._all)

    def _statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        rows = self._conn.execute(
            "SELECT id, status FROM flows WHERE id > ? ORDER BY id LIMIT ?", (after or "", limit)
        ).fetchall()
        return [(str(flow_id), str(status)) for flow_id, status in rows]

    async def flow_statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        return await self._run(self._statuses, after, limit)

    def _set_status(self, flow_id: str, status: str) -> bool:
        cursor = self._conn.execute(
            "UPDATE flows SET status = ?, updated_at = ? WHERE id = ?",
            (status, time.time(), flow_id),
        )
        return cursor.rowcount > 0

    async def set_flow_status(self, flow_id: str, status: str) -> bool:
        return await self._run(self._set_status, flow_id, status)

    async def delete_flow(self, flow_id: str) -> bool:
        return await self._run(_delete, flow_id, self._conn)

    def _hook_hash(self, flow_id: str, component_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT secret_hash FROM hooks WHERE flow_id = ? AND component_id = ?",
            (flow_id, component_id),
        ).fetchone()
        return None if row is None else str(row[0])

    async def hook_secret_hash(self, flow_id: str, component_id: str) -> str | None:
        return await self._run(self._hook_hash, flow_id, component_id)
