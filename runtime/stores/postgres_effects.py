"""The SQL of the effects ledger and of webhook idempotency keys on PostgreSQL, run by
:class:`~runtime.stores.postgres.PostgresStore`.

Each read-modify-write is one statement, so processes sharing the database agree: a claim is
an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (of two claims of one attempt, the second
waits for the first's row and then finds its condition false), and an idempotency key is
recorded, or found taken, by one upsert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from runtime.errors import DuplicateEventError
from runtime.stores import codec
from runtime.stores.base import EffectRecord, IdempotencyKey

if TYPE_CHECKING:
    import asyncpg

    from runtime.stores.postgres_letters import Executor

_COLUMNS: Final = (
    "flow_id, component_id, correlation_id, digest, updated_at, attempts, first_sent_at,"
    " uncertain, completed_at, result_json, ref, notes_json"
)
_UPSERT: Final = (
    f"INSERT INTO effects ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " ON CONFLICT (flow_id, component_id, correlation_id, digest) DO UPDATE SET"
    " updated_at = excluded.updated_at, attempts = excluded.attempts,"
    " first_sent_at = excluded.first_sent_at, uncertain = excluded.uncertain,"
    " completed_at = excluded.completed_at, result_json = excluded.result_json,"
    " ref = excluded.ref, notes_json = excluded.notes_json"
)
PUT: Final = _UPSERT
# The stored record must be the one this attempt follows: not done, one attempt fewer.
CLAIM: Final = (
    f"{_UPSERT} WHERE effects.completed_at IS NULL"
    " AND effects.attempts = excluded.attempts - 1 RETURNING 1"
)
GET: Final = (
    f"SELECT {_COLUMNS} FROM effects"
    " WHERE flow_id = $1 AND component_id = $2 AND correlation_id = $3 AND digest = $4"
)
CLAIMED: Final = "SELECT DISTINCT ref FROM effects WHERE ref = ANY($1::text[])"
PRUNE: Final = "DELETE FROM effects WHERE updated_at < $1 AND (NOT uncertain OR updated_at < $2)"


def encode(record: EffectRecord) -> tuple[Any, ...]:
    """The row of ``record`` (JSON values encoded on the caller's side, refusing bad data)."""
    return (
        record.flow_id,
        record.component_id,
        record.correlation_id,
        record.digest,
        record.updated_at,
        record.attempts,
        record.first_sent_at,
        record.uncertain,
        record.completed_at,
        codec.encode_state("result", record.result),
        record.ref,
        codec.encode_state("notes", record.notes),
    )


def decode(row: asyncpg.Record) -> EffectRecord:
    return EffectRecord(
        flow_id=row["flow_id"],
        component_id=row["component_id"],
        correlation_id=row["correlation_id"],
        digest=row["digest"],
        updated_at=row["updated_at"],
        attempts=row["attempts"],
        first_sent_at=row["first_sent_at"],
        uncertain=row["uncertain"],
        completed_at=row["completed_at"],
        result=codec.decode(row["result_json"]),
        ref=row["ref"],
        notes=codec.decode(row["notes_json"]),
    )


# -- idempotency keys of webhook events -----------------------------------------------------

FIND_KEY: Final = (
    "SELECT event_id FROM hook_keys WHERE flow_id = $1 AND component_id = $2 AND key = $3"
    " AND created_at >= $4"
)
# Records the key unless a record of it within its window ($6) exists: then no row comes back.
_ADD_KEY: Final = (
    "INSERT INTO hook_keys (flow_id, component_id, key, event_id, created_at)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (flow_id, component_id, key) DO UPDATE SET"
    " event_id = excluded.event_id, created_at = excluded.created_at"
    " WHERE hook_keys.created_at < $6 RETURNING 1"
)
PRUNE_KEYS: Final = "DELETE FROM hook_keys WHERE created_at < $1"
DELETE_KEYS: Final = "DELETE FROM hook_keys WHERE flow_id = $1"


async def add_key(
    pool: Executor,
    flow_id: str,
    component_id: str,
    key: IdempotencyKey,
    event_id: str,
    now: float,
) -> None:
    """Record ``key`` for ``event_id``, or raise :class:`DuplicateEventError` naming the
    event it was recorded with within its window."""
    while True:
        made = await pool.fetchval(
            _ADD_KEY, flow_id, component_id, key.value, event_id, now, key.since
        )
        if made is not None:
            return
        found = await pool.fetchval(FIND_KEY, flow_id, component_id, key.value, key.since)
        if found is not None:
            raise DuplicateEventError(str(found))
        # The record that refused this one was pruned in between: try again.
