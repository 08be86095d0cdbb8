"""The SQL of the durable broker's ``messages`` table on PostgreSQL.

Each function takes a connection and the calling broker's number last and runs inside a
group-commit transaction (:mod:`runtime.brokers.postgres_commit`), bound to its other arguments
with ``partial``. A row is one message not yet acknowledged; ``owner`` is the number of the
broker that holds it in memory. A row whose owner is no longer alive (see
:mod:`runtime.stores.postgres_owners`) is free to be taken, as is one without an owner (its
broker released it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from runtime.errors import StaleStateError
from runtime.stores import postgres_effects, postgres_letters
from runtime.stores.postgres_leases import fence as fence_lease
from runtime.stores.postgres_owners import OWNER_ALIVE

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from runtime.brokers.base import StateWrite
    from runtime.stores.base import DeadLetter, IdempotencyKey
    from runtime.stores.leases import Lease
    from runtime.stores.postgres_letters import Conn

# Rows broker $3 may take: its own, released ones, and those of a broker that is gone.
_FREE: Final = f"(m.owner IS NULL OR m.owner = $3 OR NOT {OWNER_ALIVE})"

_INSERT: Final = (
    "INSERT INTO messages (flow_id, component_id, parked, available_at, error, envelope_json,"
    " owner) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq"
)


async def insert(
    flow_id: str,
    component_id: str,
    available_at: float,
    text: str,
    error: str | None,
    conn: Conn,
    owner: int,
) -> int:
    row = (flow_id, component_id, error is not None, available_at, error, text, owner)
    return int(await conn.fetchval(_INSERT, *row))


async def insert_event(
    flow_id: str,
    component_id: str,
    text: str,
    event_id: str,
    key: IdempotencyKey | None,
    conn: Conn,
    owner: int,
) -> int:
    """Insert a pushed event, with its idempotency ``key`` when given (which raises
    :class:`~runtime.errors.DuplicateEventError` if the key names another event, rolling the
    insert back with the transaction)."""
    now = time.time()
    if key is not None:
        await postgres_effects.add_key(conn, flow_id, component_id, key, event_id, now)
    return await insert(flow_id, component_id, now, text, None, conn, owner)


async def update(
    seq: int, available_at: float, text: str, error: str | None, conn: Conn, owner: int
) -> None:
    await conn.execute(
        "UPDATE messages SET parked = $2, available_at = $3, error = $4, envelope_json = $5,"
        " owner = $6 WHERE seq = $1",
        seq,
        error is not None,
        available_at,
        error,
        text,
        owner,
    )


async def delete(seqs: Sequence[int], conn: Conn, owner: int) -> None:
    await conn.execute("DELETE FROM messages WHERE seq = ANY($1::bigint[])", list(seqs))


async def bury(seq: int, letter: DeadLetter, text: str, conn: Conn, owner: int) -> None:
    """Replace message ``seq`` by its dead letter (``text``: the letter's envelope)."""
    await conn.execute(postgres_letters.INSERT, *postgres_letters.insert_args(letter, text))
    await conn.execute("DELETE FROM messages WHERE seq = $1", seq)


def _claim(extra: str) -> str:
    return (
        "UPDATE messages SET owner = $3 FROM (SELECT m.seq FROM messages m"
        f" WHERE m.flow_id = $1 AND m.component_id = $2 AND {_FREE}{extra}"
        " ORDER BY m.seq LIMIT $4 FOR UPDATE SKIP LOCKED) picked"
        " WHERE messages.seq = picked.seq"
        " RETURNING messages.seq, messages.parked, messages.available_at, messages.error,"
        " messages.envelope_json"
    )


_CLAIM_ALL: Final = _claim("")
_CLAIM_READY: Final = _claim(" AND NOT m.parked")


async def claim(
    flow_id: str, component_id: str, limit: int | None, conn: Conn, owner: int
) -> list[Any]:
    """Take the free rows of a channel, oldest first: all of them (``limit`` None: a start,
    parked ones included) or at most ``limit`` not parked (a sweep, within the bound). A row
    another transaction is taking is skipped, so each goes to one broker."""
    if limit is None:
        rows = await conn.fetch(_CLAIM_ALL, flow_id, component_id, owner, None)
    else:
        rows = await conn.fetch(_CLAIM_READY, flow_id, component_id, owner, limit)
    return sorted(rows, key=lambda row: row["seq"])


async def orphaned(channels: Collection[tuple[str, str]], conn: Conn, owner: int) -> list[Any]:
    """Which of ``channels`` have rows waiting that no live broker holds."""
    flows = [flow for flow, _ in channels]
    components = [component for _, component in channels]
    return await conn.fetch(
        "SELECT DISTINCT m.flow_id, m.component_id FROM messages m"
        " JOIN unnest($1::text[], $2::text[]) AS c(flow_id, component_id)"
        " ON m.flow_id = c.flow_id AND m.component_id = c.component_id"
        f" WHERE NOT m.parked AND m.owner IS DISTINCT FROM $3 AND {_FREE}",
        flows,
        components,
        owner,
    )


async def release(flow_id: str, conn: Conn, owner: int) -> None:
    """Let go of this broker's rows of ``flow_id`` (its flow stopped here)."""
    await conn.execute(
        "UPDATE messages SET owner = NULL WHERE flow_id = $1 AND owner = $2", flow_id, owner
    )


async def delete_flow(flow_id: str, conn: Conn, owner: int) -> int:
    status = await conn.execute("DELETE FROM messages WHERE flow_id = $1", flow_id)
    return postgres_letters.affected(status)


async def strays(flow_id: str, keep: Collection[str], conn: Conn, owner: int) -> list[Any]:
    """``(seq, envelope_json)`` of the free rows of ``flow_id`` for components not in
    ``keep``, taken by this broker."""
    return await conn.fetch(
        "UPDATE messages SET owner = $3 FROM (SELECT m.seq FROM messages m"
        f" WHERE m.flow_id = $1 AND m.component_id <> ALL($2::text[]) AND {_FREE}"
        " FOR UPDATE SKIP LOCKED) picked WHERE messages.seq = picked.seq"
        " RETURNING messages.seq, messages.envelope_json",
        flow_id,
        list(keep),
        owner,
    )


async def commit_unit(
    writes: Sequence[StateWrite],
    rows: Sequence[tuple[str, str, str]],
    now: float,
    lease: Lease | None,
    conn: Conn,
    owner: int,
) -> list[int]:
    if lease is not None:  # first: a tick whose trigger passed to another process writes nothing
        await fence_lease(conn, lease)
    for flow_id, component_id, key, value_json, expected in writes:
        await write_state(conn, flow_id, component_id, key, value_json, expected)
    return [
        await insert(flow, component, now, text, None, conn, owner)
        for flow, component, text in rows
    ]


_STATE_WHERE: Final = "WHERE flow_id = $1 AND component_id = $2 AND key = $3"


async def write_state(
    conn: Conn,
    flow_id: str,
    component_id: str,
    key: str,
    value_json: str | None,
    expected: int | None,
) -> None:
    """One state write of a unit (``value_json`` encoded, ``None`` deletes), by the rules of
    ``runtime.stores.postgres_state``: with ``expected``, only while the stored version is that
    one (0: absent), else :class:`~runtime.errors.StaleStateError`, which rolls the unit back."""
    address = (flow_id, component_id, key)
    now = time.time()
    if value_json is None:
        fence = "" if expected is None or expected == 0 else " AND version = $4"
        args = () if not fence else (expected,)
        status = await conn.execute(f"DELETE FROM state {_STATE_WHERE}{fence}", *address, *args)
        stale = bool(fence) and postgres_letters.affected(status) == 0
    elif expected is None:
        await conn.execute(_UPSERT_STATE, *address, value_json, now)
        return
    elif expected == 0:
        status = await conn.execute(_INSERT_STATE + " DO NOTHING", *address, value_json, now)
        stale = postgres_letters.affected(status) == 0
    else:
        status = await conn.execute(
            "UPDATE state SET value_json = $4, updated_at = $5, version = version + 1"
            f" {_STATE_WHERE} AND version = $6",
            *address,
            value_json,
            now,
            expected,
        )
        stale = postgres_letters.affected(status) == 0
    if stale:
        assert expected is not None  # only a fenced write is stale
        raise StaleStateError(flow_id, component_id, key, expected)


_INSERT_STATE: Final = (
    "INSERT INTO state (flow_id, component_id, key, value_json, updated_at, version)"
    " VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (flow_id, component_id, key)"
)
_UPSERT_STATE: Final = (
    f"{_INSERT_STATE} DO UPDATE SET value_json = excluded.value_json,"
    " updated_at = excluded.updated_at, version = state.version + 1"
)
