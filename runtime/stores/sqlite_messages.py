"""The SQL of the durable broker's ``messages`` table.

Each function takes the connection last and runs on the store's thread inside a group-commit
transaction (:mod:`runtime.brokers.group_commit`), bound to its arguments with ``partial``.
A row is one message not yet acknowledged: ``seq`` orders a channel's rows, ``parked`` marks one
waiting for its flow to resume (``error`` says why), ``available_at`` is when a delayed retry
falls due.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runtime.stores import sqlite_keys, sqlite_leases
from runtime.stores.sqlite import write_dead_letter, write_state

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Collection, Sequence

    from runtime.brokers.base import StateWrite
    from runtime.stores.base import DeadLetter, IdempotencyKey
    from runtime.stores.leases import Lease


def in_one_transaction(
    works: list[Callable[[sqlite3.Connection], Any]], conn: sqlite3.Connection
) -> list[Any]:
    """Run a group commit's batch of ``works`` in one transaction; their results, in order.
    A failing work rolls the whole batch back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        results = [work(conn) for work in works]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return results


_INSERT = (
    "INSERT INTO messages (flow_id, component_id, parked, available_at, error, envelope_json)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def insert(
    flow_id: str,
    component_id: str,
    available_at: float,
    text: str,
    error: str | None,
    conn: sqlite3.Connection,
) -> int:
    row = (flow_id, component_id, int(error is not None), available_at, error, text)
    seq = conn.execute(_INSERT, row).lastrowid
    assert seq is not None
    return seq


def insert_event(
    flow_id: str,
    component_id: str,
    text: str,
    event_id: str,
    key: IdempotencyKey | None,
    conn: sqlite3.Connection,
) -> int:
    """Insert a pushed event, with its idempotency ``key`` when given (which raises
    :class:`~runtime.errors.DuplicateEventError` if the key names another event, rolling the
    insert back with the transaction)."""
    if key is not None:
        sqlite_keys.write(conn, flow_id, component_id, key, event_id)
    return insert(flow_id, component_id, time.time(), text, None, conn)


def update(
    seq: int, available_at: float, text: str, error: str | None, conn: sqlite3.Connection
) -> None:
    conn.execute(
        "UPDATE messages SET parked = ?, available_at = ?, error = ?, envelope_json = ?"
        " WHERE seq = ?",
        (int(error is not None), available_at, error, text, seq),
    )


def delete(seqs: Sequence[int], conn: sqlite3.Connection) -> None:
    conn.executemany("DELETE FROM messages WHERE seq = ?", [(seq,) for seq in seqs])


def bury(seq: int, letter: DeadLetter, text: str, conn: sqlite3.Connection) -> None:
    """Replace message ``seq`` by its dead letter (``text``: the letter's envelope)."""
    write_dead_letter(conn, letter, text)
    conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))


def load(flow_id: str, component_id: str, conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(
        "SELECT seq, parked, available_at, error, envelope_json FROM messages"
        " WHERE flow_id = ? AND component_id = ? ORDER BY seq",
        (flow_id, component_id),
    ).fetchall()


def waiting(
    channels: Collection[tuple[str, str]], before: float, conn: sqlite3.Connection
) -> list[Any]:
    """Which of ``channels`` (flow, component) have a row not parked, due before ``before``."""
    found = conn.execute(
        "SELECT DISTINCT flow_id, component_id FROM messages WHERE NOT parked AND available_at < ?",
        (before,),
    ).fetchall()
    wanted = set(channels)
    return [row for row in found if (row[0], row[1]) in wanted]


def delete_flow(flow_id: str, conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM messages WHERE flow_id = ?", (flow_id,)).rowcount


def strays(flow_id: str, keep: Collection[str], conn: sqlite3.Connection) -> list[Any]:
    """``(seq, envelope_json)`` of the rows of ``flow_id`` for components not in ``keep``."""
    marks = ", ".join("?" * len(keep))
    where = f"flow_id = ? AND component_id NOT IN ({marks})" if keep else "flow_id = ?"
    return conn.execute(
        f"SELECT seq, envelope_json FROM messages WHERE {where} ORDER BY seq", (flow_id, *keep)
    ).fetchall()


def commit_unit(
    writes: Sequence[StateWrite],
    rows: Sequence[tuple[str, str, str]],
    now: float,
    lease: Lease | None,
    conn: sqlite3.Connection,
) -> list[int]:
    if lease is not None:  # first: a tick whose trigger passed to another process writes nothing
        sqlite_leases.fence(conn, lease)
    for flow_id, component_id, key, value_json, expected in writes:
        write_state(conn, flow_id, component_id, key, value_json, expected)
    return [insert(flow, component, now, text, None, conn) for flow, component, text in rows]
