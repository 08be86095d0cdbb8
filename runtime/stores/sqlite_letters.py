"""The SQL of the SQLite store's dead letters beyond one-by-one access: find, count, bulk acts.

Every function runs on the store's thread with its connection. Letters are ordered newest first
by ``failed_at``, then by ``rowid`` (the order they were stored), which the indexes
``dead_letters_by_time`` and ``dead_letters_by_kind`` serve; a page's cursor is that position.
Text search uses :func:`~runtime.stores.letters.contains`, registered on the connection as
``flowmixer_contains`` so both stores fold case the same way.
"""

from __future__ import annotations

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
    import sqlite3

LETTER_COLUMNS: Final = "id, error, error_type, attempts, failed_at, retry_requested, envelope_json"

CONTAINS_FUNCTION: Final = "flowmixer_contains"


def register_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL functions the queries below use."""
    conn.create_function(CONTAINS_FUNCTION, 2, _contains, deterministic=True)


def _contains(haystack: str | None, needle: str | None) -> bool:
    return haystack is not None and needle is not None and contains(haystack, needle)


def letter_from_row(row: tuple[Any, ...]) -> DeadLetter:
    """A letter from a row of :data:`LETTER_COLUMNS`."""
    letter_id, error, error_type, attempts, failed_at, retry_requested, envelope_json = row
    return DeadLetter(
        id=letter_id,
        envelope=codec.decode_envelope(envelope_json),
        error=error,
        error_type=error_type,
        attempts=int(attempts),
        failed_at=float(failed_at),
        retry_requested=bool(retry_requested),
    )


def _where(query: DeadLetterQuery, *extra: tuple[str, tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (or "") of ``query`` and more conditions, with its parameters."""
    conditions: list[tuple[str, tuple[Any, ...]]] = [
        (f"{column} = ?", (value,))
        for column, value in (
            ("flow_id", query.flow_id),
            ("component_id", query.component_id),
            ("error_type", query.error_type),
        )
        if value is not None
    ]
    if query.since is not None:
        conditions.append(("failed_at >= ?", (query.since,)))
    if query.until is not None:
        conditions.append(("failed_at < ?", (query.until,)))
    if query.text is not None:
        conditions.append((f"{CONTAINS_FUNCTION}(error, ?)", (query.text,)))
    conditions.extend(extra)
    if not conditions:
        return "", []
    clause = " WHERE " + " AND ".join(sql for sql, _ in conditions)
    return clause, [value for _, values in conditions for value in values]


def find(
    conn: sqlite3.Connection, query: DeadLetterQuery, limit: int, cursor: str | None
) -> DeadLetterPage:
    extra: list[tuple[str, tuple[Any, ...]]] = []
    if cursor is not None:
        extra.append(("(failed_at, rowid) < (?, ?)", decode_cursor(cursor)))
    where, params = _where(query, *extra)
    rows = conn.execute(
        f"SELECT rowid, {LETTER_COLUMNS} FROM dead_letters{where}"
        " ORDER BY failed_at DESC, rowid DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        rowid, *columns = page[-1]
        next_cursor = encode_cursor(float(columns[4]), int(rowid))
    return DeadLetterPage([letter_from_row(tuple(row[1:])) for row in page], next_cursor)


def count(conn: sqlite3.Connection, query: DeadLetterQuery) -> list[DeadLetterCount]:
    where, params = _where(query)
    rows = conn.execute(
        "SELECT flow_id, component_id, error_type, COUNT(*) FROM dead_letters"
        f"{where} GROUP BY flow_id, component_id, error_type"
        " ORDER BY flow_id, component_id, error_type",
        params,
    ).fetchall()
    return [DeadLetterCount(str(f), str(c), str(e), int(n)) for f, c, e, n in rows]


def request_retries(conn: sqlite3.Connection, query: DeadLetterQuery) -> int:
    where, params = _where(query)
    return conn.execute(f"UPDATE dead_letters SET retry_requested = 1{where}", params).rowcount


def delete(conn: sqlite3.Connection, query: DeadLetterQuery) -> int:
    where, params = _where(query)
    return conn.execute(f"DELETE FROM dead_letters{where}", params).rowcount
