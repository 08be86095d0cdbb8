"""The SQL of component state on PostgreSQL: plain writes, and writes fenced by a version.

A fenced write is one conditional statement (``UPDATE ... WHERE version = $n``, or an insert
that does nothing when the key exists), so a writer holding an older version changes nothing,
whichever process it runs in. The rules are those of the SQLite store (``sqlite_state.py``):
the version counts a value's writes since it was last absent; 0 means absent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from runtime.errors import StaleStateError
from runtime.stores import codec
from runtime.stores.base import VersionedState

if TYPE_CHECKING:
    import asyncpg

_WHERE: Final = "WHERE flow_id = $1 AND component_id = $2 AND key = $3"


async def get_versioned(
    pool: asyncpg.Pool, flow_id: str, component_id: str, key: str
) -> VersionedState:
    """The value and its version; ``(None, 0)`` when absent."""
    row = await pool.fetchrow(
        f"SELECT value_json, version FROM state {_WHERE}", flow_id, component_id, key
    )
    if row is None:
        return VersionedState(None, 0)
    return VersionedState(codec.decode(row["value_json"]), int(row["version"]))


async def write(
    pool: asyncpg.Pool,
    flow_id: str,
    component_id: str,
    key: str,
    value: Any,
    expected_version: int | None,
) -> None:
    """Store ``value``; with ``expected_version``, only while the stored version is that one,
    else :class:`~runtime.errors.StaleStateError`."""
    value_json = codec.encode_state(key, value)
    address = (flow_id, component_id, key)
    now = time.time()
    if expected_version is None:
        await pool.execute(
            "INSERT INTO state (flow_id, component_id, key, value_json, updated_at, version)"
            " VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (flow_id, component_id, key)"
            " DO UPDATE SET value_json = excluded.value_json,"
            " updated_at = excluded.updated_at, version = state.version + 1",
            *address,
            value_json,
            now,
        )
        return
    if expected_version == 0:
        status = await pool.execute(
            "INSERT INTO state (flow_id, component_id, key, value_json, updated_at, version)"
            " VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (flow_id, component_id, key)"
            " DO NOTHING",
            *address,
            value_json,
            now,
        )
    else:
        status = await pool.execute(
            "UPDATE state SET value_json = $4, updated_at = $5, version = version + 1"
            f" {_WHERE} AND version = $6",
            *address,
            value_json,
            now,
            expected_version,
        )
    if status.rsplit(" ", 1)[-1] == "0":
        raise StaleStateError(flow_id, component_id, key, expected_version)
