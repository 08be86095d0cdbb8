"""Deployed flows and their webhook secrets, kept in the SQLite store (tables ``flows``, ``hooks``).

Every query runs on the store's thread through ``SQLiteStore.with_connection``. A hook secret
is shown once, when its flow is deployed; only its SHA-256 is kept (the secret is
32 random bytes, so a plain hash is enough to make the stored value useless to a reader).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.stores.sqlite import SQLiteStore

RUNNING = "running"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A flow as deployed: its definition (the flow file's JSON) and whether it should run."""

    id: str
    definition: dict[str, Any]
    status: str
    updated_at: float


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


secret_digest = _hash
"""What is stored of a hook secret (its SHA-256, in hex)."""


class Deployments:
    """The server's deployed flows in ``store``; every call runs on the store's thread."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    # -- flows -----------------------------------------------------------------------------

    @staticmethod
    def _save(
        flow_id: str, definition_json: str, hooks: list[str], conn: sqlite3.Connection
    ) -> dict[str, str]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT status FROM flows WHERE id = ?", (flow_id,)).fetchone()
            status = STOPPED if row is None else str(row[0])
            conn.execute(
                "INSERT INTO flows (id, definition_json, status, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET definition_json = excluded.definition_json,"
                " updated_at = excluded.updated_at",
                (flow_id, definition_json, status, time.time()),
            )
            kept = {
                str(r[0])
                for r in conn.execute(
                    "SELECT component_id FROM hooks WHERE flow_id = ?", (flow_id,)
                ).fetchall()
            }
            for gone in kept - set(hooks):
                conn.execute(
                    "DELETE FROM hooks WHERE flow_id = ? AND component_id = ?", (flow_id, gone)
                )
            created: dict[str, str] = {}
            for component_id in hooks:
                if component_id in kept:
                    continue
                secret = secrets.token_urlsafe(32)
                conn.execute(
                    "INSERT INTO hooks (flow_id, component_id, secret_hash) VALUES (?, ?, ?)",
                    (flow_id, component_id, _hash(secret)),
                )
                created[component_id] = secret
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return created

    async def save(
        self, flow_id: str, definition: dict[str, Any], hooks: Iterable[str]
    ) -> dict[str, str]:
        """Keep ``definition`` (a new flow is stopped; a redeployed one keeps its status).

        Returns the secrets of the webhook triggers that had none (new flow or new trigger):
        the only time they are seen. Triggers that stay keep their secret; removed ones lose it.
        """
        text = json.dumps(definition, separators=(",", ":"))
        work = partial(self._save, flow_id, text, sorted(set(hooks)))
        return await self._store.with_connection(work)

    @staticmethod
    def _get(flow_id: str, conn: sqlite3.Connection) -> Deployment | None:
        row = conn.execute(
            "SELECT id, definition_json, status, updated_at FROM flows WHERE id = ?", (flow_id,)
        ).fetchone()
        return None if row is None else _deployment(row)

    async def get(self, flow_id: str) -> Deployment | None:
        return await self._store.with_connection(partial(self._get, flow_id))

    @staticmethod
    def _all(conn: sqlite3.Connection) -> list[Deployment]:
        rows = conn.execute(
            "SELECT id, definition_json, status, updated_at FROM flows ORDER BY id"
        ).fetchall()
        return [_deployment(row) for row in rows]

    async def all(self) -> list[Deployment]:
        """Every deployed flow, by id."""
        return await self._store.with_connection(self._all)

    @staticmethod
    def _statuses(after: str | None, limit: int, conn: sqlite3.Connection) -> list[tuple[str, str]]:
        rows = conn.execute(
            "SELECT id, status FROM flows WHERE id > ? ORDER BY id LIMIT ?", (after or "", limit)
        ).fetchall()
        return [(str(flow_id), str(status)) for flow_id, status in rows]

    async def statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """``(id, status)`` of at most ``limit`` flows by id, those after ``after``; their
        definitions are not read (a page of the listing stays cheap with many flows)."""
        return await self._store.with_connection(partial(self._statuses, after, limit))

    @staticmethod
    def _set_status(flow_id: str, status: str, conn: sqlite3.Connection) -> bool:
        cursor = conn.execute(
            "UPDATE flows SET status = ?, updated_at = ? WHERE id = ?",
            (status, time.time(), flow_id),
        )
        return cursor.rowcount > 0

    async def set_status(self, flow_id: str, status: str) -> bool:
        """Record whether the flow should run (at the server's next start too)."""
        return await self._store.with_connection(partial(self._set_status, flow_id, status))

    @staticmethod
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

    async def delete(self, flow_id: str) -> bool:
        """Forget the flow and its hook secrets; False if it was not deployed."""
        return await self._store.with_connection(partial(self._delete, flow_id))

    # -- hooks -----------------------------------------------------------------------------

    @staticmethod
    def _hook_hash(flow_id: str, component_id: str, conn: sqlite3.Connection) -> str | None:
        row = conn.execute(
            "SELECT secret_hash FROM hooks WHERE flow_id = ? AND component_id = ?",
            (flow_id, component_id),
        ).fetchone()
        return None if row is None else str(row[0])

    async def hook_hash(self, flow_id: str, component_id: str) -> str | None:
        """The stored hash of the hook's secret; ``None`` when the flow has no such hook."""
        return await self._store.with_connection(partial(self._hook_hash, flow_id, component_id))

    async def hook_exists(self, flow_id: str, component_id: str) -> bool:
        work = partial(self._hook_hash, flow_id, component_id)
        return await self._store.with_connection(work) is not None

    async def check_hook_secret(self, flow_id: str, component_id: str, secret: str) -> bool:
        """Whether ``secret`` is the hook's secret (compared in constant time)."""
        stored = await self._store.with_connection(partial(self._hook_hash, flow_id, component_id))
        return stored is not None and hmac.compare_digest(stored, _hash(secret))

    # -- dead letters ----------------------------------------------------------------------

    @staticmethod
    def _dead_letter_counts(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
        rows = conn.execute(
            "SELECT flow_id, component_id, COUNT(*) FROM dead_letters"
            " GROUP BY flow_id, component_id"
        ).fetchall()
        return [(str(f), str(c), int(n)) for f, c, n in rows]

    async def dead_letter_counts(self) -> list[tuple[str, str, int]]:
        """How many dead letters each (flow, component) has, for the metrics."""
        return await self._store.with_connection(self._dead_letter_counts)


def _deployment(row: tuple[Any, ...]) -> Deployment:
    flow_id, definition_json, status, updated_at = row
    return Deployment(str(flow_id), json.loads(definition_json), str(status), float(updated_at))
