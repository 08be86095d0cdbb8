"""The SQL of the PostgreSQL store's dead letters, run by
:class:`~runtime.stores.postgres.PostgresStore`.

Letters are ordered newest first by ``failed_at``, then by ``seq`` (the order they were
stored), like SQLite's ``rowid``. A text filter is applied in Python with
:func:`~runtime.stores.letters.contains` (Unicode case folding, which PostgreSQL's ``lower``
does not match), after SQL has narrowed the rows by every other field.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from runtime.stores import codec
from runtime.stores.base import DeadLetter
from runtime.stores.letters import (
    DeadLetterCount,
    DeadLetterPage,
    DeadLetterQuery,
    contains,
    decode_cursor,
    encode_cursor,
)

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Conn = asyncpg.Connection | PoolConnectionProxy
    Executor = asyncpg.Pool | Conn

COLUMNS: Final = "id, error, error_type, attempts, failed_at, retry_requested, envelope_json"
# Rows read per round while a text filter picks a page.
_BATCH: Final = 500


def letter_from_row(row: asyncpg.Record) -> DeadLetter:
    """A letter from a row of :data:`COLUMNS`."""
    return DeadLetter(
        id=row["id"],
        envelope=codec.decode_envelope(row["envelope_json"]),
        error=row["error"],
        error_type=row["error_type"],
        attempts=row["attempts"],
        failed_at=row["failed_at"],
        retry_requested=row["retry_requested"],
    )


def insert_args(letter: DeadLetter, envelope_json: str) -> tuple[Any, ...]:
    return (
        letter.id,
        letter.flow_id,
        letter.component_id,
        letter.envelope.correlation_id,
        letter.error,
        letter.error_type,
        letter.attempts,
        letter.failed_at,
        letter.retry_requested,
        envelope_json,
    )


# A replaced letter takes a new seq, as a re-added one does in the other stores.
INSERT: Final = (
    "INSERT INTO dead_letters (id, flow_id, component_id, correlation_id, error, error_type,"
    " attempts, failed_at, retry_requested, envelope_json)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (id) DO UPDATE SET seq = nextval('dead_letter_seq'),"
    " flow_id = excluded.flow_id, component_id = excluded.component_id,"
    " correlation_id = excluded.correlation_id, error = excluded.error,"
    " error_type = excluded.error_type, attempts = excluded.attempts,"
    " failed_at = excluded.failed_at, retry_requested = excluded.retry_requested,"
    " envelope_json = excluded.envelope_json"
)


def _where(query: DeadLetterQuery, params: list[Any], *extra: str) -> str:
    """The ``WHERE`` clause (or "") of every field of ``query`` but its text, and ``extra``
    conditions; appends the values to ``params`` (``extra`` may use ``$n`` placed before)."""
    conditions = list(extra)
    for column, value, operator in (
        ("flow_id", query.flow_id, "="),
        ("component_id", query.component_id, "="),
        ("error_type", query.error_type, "="),
        ("failed_at", query.since, ">="),
        ("failed_at", query.until, "<"),
    ):
        if value is not None:
            params.append(value)
            conditions.append(f"{column} {operator} ${len(params)}")
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _texts(query: DeadLetterQuery, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
    text = query.text
    return rows if text is None else [row for row in rows if contains(row["error"], text)]


async def find(
    db: Executor, query: DeadLetterQuery, limit: int, cursor: str | None
) -> DeadLetterPage:
    position = decode_cursor(cursor) if cursor is not None else None
    chosen: list[asyncpg.Record] = []
    # Without a text filter one round suffices; with one, rounds of keys until a page is full.
    batch = limit + 1 if query.text is None else max(limit + 1, _BATCH)
    columns = f"seq, {COLUMNS}" if query.text is None else "seq, failed_at, error"
    while len(chosen) <= limit:
        params: list[Any] = []
        extra = []
        if position is not None:
            params.extend(position)
            extra.append("(failed_at, seq) < ($1, $2)")
        where = _where(query, params, *extra)
        params.append(batch)
        rows = await db.fetch(
            f"SELECT {columns} FROM dead_letters{where}"
            f" ORDER BY failed_at DESC, seq DESC LIMIT ${len(params)}",
            *params,
        )
        chosen.extend(_texts(query, rows))
        if len(rows) < batch:
            break
        position = (rows[-1]["failed_at"], rows[-1]["seq"])
    page = chosen[:limit]
    following = None
    if len(chosen) > limit:
        following = encode_cursor(page[-1]["failed_at"], page[-1]["seq"])
    if query.text is not None and page:
        full = await db.fetch(
            f"SELECT seq, {COLUMNS} FROM dead_letters WHERE seq = ANY($1::bigint[])",
            [row["seq"] for row in page],
        )
        by_seq = {row["seq"]: row for row in full}
        # A letter deleted in between is left out of the page (it is gone).
        page = [by_seq[row["seq"]] for row in page if row["seq"] in by_seq]
    return DeadLetterPage([letter_from_row(row) for row in page], following)


async def count(db: Executor, query: DeadLetterQuery) -> list[DeadLetterCount]:
    params: list[Any] = []
    where = _where(query, params)
    if query.text is None:
        rows = await db.fetch(
            "SELECT flow_id, component_id, error_type, count(*) AS n FROM dead_letters"
            f"{where} GROUP BY flow_id, component_id, error_type"
            " ORDER BY flow_id, component_id, error_type",
            *params,
        )
        return [DeadLetterCount(r[0], r[1], r[2], int(r[3])) for r in rows]
    rows = await db.fetch(
        f"SELECT flow_id, component_id, error_type, error FROM dead_letters{where}", *params
    )
    counts = Counter((r[0], r[1], r[2]) for r in _texts(query, rows))
    return [DeadLetterCount(*key, n) for key, n in sorted(counts.items())]


async def _matching_seqs(conn: Conn, query: DeadLetterQuery) -> list[int]:
    """The seqs of the letters ``query`` matches, locked until the transaction ends."""
    params: list[Any] = []
    where = _where(query, params)
    rows = await conn.fetch(f"SELECT seq, error FROM dead_letters{where} FOR UPDATE", *params)
    return [row["seq"] for row in _texts(query, rows)]


async def act(conn: Conn, query: DeadLetterQuery, action: str) -> int:
    """Run ``action`` (``UPDATE dead_letters SET ...`` or ``DELETE FROM dead_letters``) on
    the letters ``query`` matches; how many. Call inside a transaction."""
    if query.text is None:
        params: list[Any] = []
        status = await conn.execute(f"{action}{_where(query, params)}", *params)
    else:
        seqs = await _matching_seqs(conn, query)
        status = await conn.execute(f"{action} WHERE seq = ANY($1::bigint[])", seqs)
    return affected(status)


def affected(status: str) -> int:
    """The row count of a command status such as ``DELETE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


TAKE: Final = (
    f"DELETE FROM dead_letters WHERE flow_id = $1 AND retry_requested RETURNING seq, {COLUMNS}"
)
REQUESTED: Final = (
    f"SELECT {COLUMNS} FROM dead_letters WHERE flow_id = $1 AND retry_requested"
    " ORDER BY failed_at, seq"
)


def oldest_first(rows: list[asyncpg.Record]) -> list[DeadLetter]:
    """Letters of rows with ``seq``, oldest first (``RETURNING`` keeps no order)."""
    ordered = sorted(rows, key=lambda row: (row["failed_at"], row["seq"]))
    return [letter_from_row(row) for row in ordered]
