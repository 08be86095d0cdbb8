"""The default store: component state and dead letters in one SQLite file.

Every sqlite3 call runs on one worker thread owned by the store, so the event loop never waits
on the disk and the connection is only ever used by the thread that opened it. The file is in
WAL mode with ``synchronous=NORMAL``: a commit survives a crash of the process, and the last
commits may be lost only when the whole machine loses power.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from runtime.errors import ConfigurationError
from runtime.settings import Settings
from runtime.stores import codec, sqlite_effects, sqlite_keys, sqlite_letters
from runtime.stores.base import DeadLetter, EffectRecord, IdempotencyKey, VersionedState
from runtime.stores.letters import (
    EVERY_LETTER,
    DeadLetterCount,
    DeadLetterPage,
    DeadLetterQuery,
    check_limit,
    decode_cursor,
)
from runtime.stores.sqlite_auth import SQLiteAuthRows
from runtime.stores.sqlite_copy import SQLiteCopyRows
from runtime.stores.sqlite_deployments import SQLiteDeploymentRows
from runtime.stores.sqlite_leases import SQLiteLeaseRows
from runtime.stores.sqlite_schema import migrate
from runtime.stores.sqlite_state import write_state

T = TypeVar("T")

__all__ = ["SQLiteStore", "write_dead_letter", "write_state"]

_LETTER_COLUMNS = sqlite_letters.LETTER_COLUMNS


def _connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    """Create the file (private to the user) when missing, connect, and bring the schema up."""
    if path != ":memory:":
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite gives its -wal and -shm files the database file's permissions.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    # isolation_level=None: each statement commits alone unless inside an explicit BEGIN.
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        _write_ahead_logging(conn, busy_timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        sqlite_letters.register_functions(conn)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _write_ahead_logging(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode, waiting up to ``busy_timeout`` s for another process that is
    doing the same: SQLite answers "database is locked" at once then, without waiting."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # on the store's own thread, before anything else runs there
        pause = min(pause * 2, 0.05)


def _discard(opening: Future[sqlite3.Connection]) -> None:
    """Close a connection whose opener stopped waiting for it (runs on the worker thread)."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


_letter = sqlite_letters.letter_from_row


def write_dead_letter(conn: sqlite3.Connection, letter: DeadLetter, envelope_json: str) -> None:
    """Keep ``letter`` (its envelope as ``codec.encode_envelope`` text), replacing one with its id.

    Like :func:`write_state`, for the durable broker: it drops a message's row in the same
    transaction.
    """
    conn.execute(
        "INSERT OR REPLACE INTO dead_letters (id, flow_id, component_id, correlation_id,"
        " error, error_type, attempts, failed_at, retry_requested, envelope_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            letter.id,
            letter.flow_id,
            letter.component_id,
            letter.envelope.correlation_id,
            letter.error,
            letter.error_type,
            letter.attempts,
            letter.failed_at,
            int(letter.retry_requested),
            envelope_json,
        ),
    )


class SQLiteStore(SQLiteAuthRows, SQLiteDeploymentRows, SQLiteCopyRows, SQLiteLeaseRows):
    """A :class:`~runtime.stores.base.Store` (and the auth and server records of
    :mod:`runtime.stores.contracts`) in one SQLite file; make one with :meth:`open`."""

    def __init__(
        self, path: str, executor: ThreadPoolExecutor, connection: sqlite3.Connection
    ) -> None:
        self.path = path
        self._executor = executor
        self._conn = connection
        self._closed = False

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 5.0
    ) -> SQLiteStore:
        """Open (creating when missing) the database at ``path``.

        ``path`` defaults to the database of the configured home (``FLOWMIXER_HOME``);
        ``":memory:"`` gives a private in-memory database. Missing directories are created
        with mode 0700 and a new file with mode 0600. Writers wait up to ``busy_timeout``
        seconds for another process holding the file. A path that cannot be opened as a
        flowmixer database raises :class:`~runtime.errors.ConfigurationError`.
        """
        target = os.fspath(Settings.from_env().db_path if path is None else path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowmixer-sqlite")
        opening = executor.submit(_connect, target, busy_timeout)
        try:
            connection = await asyncio.wrap_future(opening)
        except BaseException as exc:
            executor.submit(_discard, opening)
            executor.shutdown(wait=False)
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise ConfigurationError(
                    f"cannot open the flowmixer database {target!r}: {exc}"
                ) from exc
            raise
        return cls(target, executor, connection)

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Finish the calls already made, close the file and refuse further use."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            # Shielded: a cancelled caller must not leave the file open.
            await asyncio.shield(loop.run_in_executor(self._executor, self._conn.close))
        finally:
            self._executor.shutdown(wait=False)

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"the store for {self.path!r} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` on the store's thread and return its result.

        For the durable broker, whose rows share this file and commit with state writes and
        dead letters: calls run one at a time, each statement commits alone, and several writes
        are made atomic by wrapping them in ``BEGIN IMMEDIATE`` ... ``COMMIT`` inside ``work``.
        Every other record has a method of its contract (:mod:`runtime.stores.contracts`).
        """
        return await self._run(work, self._conn)

    # -- state ------------------------------------------------------------------------------

    def _get_state(self, flow_id: str, component_id: str, key: str) -> tuple[str, int] | None:
        row = self._conn.execute(
            "SELECT value_json, version FROM state"
            " WHERE flow_id = ? AND component_id = ? AND key = ?",
            (flow_id, component_id, key),
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any:
        found = await self._run(self._get_state, flow_id, component_id, key)
        return None if found is None else codec.decode(found[0])

    async def get_versioned_state(
        self, flow_id: str, component_id: str, key: str
    ) -> VersionedState:
        found = await self._run(self._get_state, flow_id, component_id, key)
        if found is None:
            return VersionedState(None, 0)
        return VersionedState(codec.decode(found[0]), found[1])

    async def set_state(
        self,
        flow_id: str,
        component_id: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> None:
        value_json = codec.encode_state(key, value)
        await self._run(
            write_state, self._conn, flow_id, component_id, key, value_json, expected_version
        )

    def _delete_state(self, flow_id: str, component_id: str, key: str) -> None:
        write_state(self._conn, flow_id, component_id, key, None)

    async def delete_state(self, flow_id: str, component_id: str, key: str) -> None:
        await self._run(self._delete_state, flow_id, component_id, key)

    def _delete_flow_state(self, flow_id: str) -> int:
        return self._conn.execute("DELETE FROM state WHERE flow_id = ?", (flow_id,)).rowcount

    async def delete_flow_state(self, flow_id: str) -> int:
        return await self._run(self._delete_flow_state, flow_id)

    # -- dead letters -----------------------------------------------------------------------

    def _add_dead_letter(self, letter: DeadLetter, envelope_json: str) -> None:
        write_dead_letter(self._conn, letter, envelope_json)

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep ``letter``; one with the same id is replaced."""
        envelope_json = codec.encode_envelope(letter.envelope)
        await self._run(self._add_dead_letter, letter, envelope_json)

    async def list_dead_letters(
        self, *, flow_id: str | None = None, component_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally of one flow and/or component."""
        query = DeadLetterQuery(flow_id=flow_id, component_id=component_id)
        return (await self.find_dead_letters(query, limit=limit)).letters

    async def find_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER, *, limit: int = 100, cursor: str | None = None
    ) -> DeadLetterPage:
        check_limit(limit)
        if cursor is not None:
            decode_cursor(cursor)  # refuse a bad cursor here, not on the store's thread
        return await self._run(sqlite_letters.find, self._conn, query, limit, cursor)

    async def count_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER
    ) -> list[DeadLetterCount]:
        return await self._run(sqlite_letters.count, self._conn, query)

    async def request_retries(self, query: DeadLetterQuery) -> int:
        return await self._run(sqlite_letters.request_retries, self._conn, query)

    async def delete_dead_letters(self, query: DeadLetterQuery) -> int:
        return await self._run(sqlite_letters.delete, self._conn, query)

    def _get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        row = self._conn.execute(
            f"SELECT {_LETTER_COLUMNS} FROM dead_letters WHERE id = ?", (letter_id,)
        ).fetchone()
        return None if row is None else _letter(row)

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        return await self._run(self._get_dead_letter, letter_id)

    def _delete_dead_letter(self, letter_id: str) -> bool:
        cursor = self._conn.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))
        return cursor.rowcount > 0

    async def delete_dead_letter(self, letter_id: str) -> bool:
        return await self._run(self._delete_dead_letter, letter_id)

    def _request_retry(self, letter_id: str) -> bool:
        cursor = self._conn.execute(
            "UPDATE dead_letters SET retry_requested = 1 WHERE id = ?", (letter_id,)
        )
        return cursor.rowcount > 0

    async def request_retry(self, letter_id: str) -> bool:
        return await self._run(self._request_retry, letter_id)

    def _take_retries(self, flow_id: str) -> list[DeadLetter]:
        # One write transaction: no other writer can mark or take a letter in between.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self._conn.execute(
                f"SELECT {_LETTER_COLUMNS} FROM dead_letters"
                " WHERE flow_id = ? AND retry_requested = 1 ORDER BY failed_at, rowid",
                (flow_id,),
            ).fetchall()
            self._conn.execute(
                "DELETE FROM dead_letters WHERE flow_id = ? AND retry_requested = 1", (flow_id,)
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return [_letter(row) for row in rows]

    def _requested_retries(self, flow_id: str) -> list[DeadLetter]:
        rows = self._conn.execute(
            f"SELECT {_LETTER_COLUMNS} FROM dead_letters"
            " WHERE flow_id = ? AND retry_requested = 1 ORDER BY failed_at, rowid",
            (flow_id,),
        ).fetchall()
        return [_letter(row) for row in rows]

    async def requested_retries(self, flow_id: str) -> list[DeadLetter]:
        return await self._run(self._requested_retries, flow_id)

    async def take_retries(self, flow_id: str) -> list[DeadLetter]:
        """Remove and return ``flow_id``'s letters marked for retry, oldest first, atomically."""
        return await self._run(self._take_retries, flow_id)

    # -- effects (the SQL is in runtime.stores.sqlite_effects) ------------------------------

    async def get_effect(
        self, flow_id: str, component_id: str, correlation_id: str, digest: str
    ) -> EffectRecord | None:
        return await self._run(
            sqlite_effects.get, self._conn, flow_id, component_id, correlation_id, digest
        )

    async def put_effect(self, record: EffectRecord) -> None:
        await self._run(sqlite_effects.put, self._conn, sqlite_effects.encode(record))

    async def claim_effect(self, record: EffectRecord) -> bool:
        return await self._run(sqlite_effects.claim, self._conn, sqlite_effects.encode(record))

    async def claimed_refs(self, refs: Collection[str]) -> set[str]:
        return await self._run(sqlite_effects.claimed, self._conn, refs)

    async def prune_effects(self, before: float, *, uncertain_before: float | None = None) -> int:
        kept = before if uncertain_before is None else uncertain_before
        return await self._run(sqlite_effects.prune, self._conn, before, kept)

    # -- idempotency keys of webhook events (the SQL is in runtime.stores.sqlite_keys) -------

    async def find_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey
    ) -> str | None:
        return await self._run(sqlite_keys.find, self._conn, flow_id, component_id, key)

    async def add_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey, event_id: str
    ) -> None:
        await self._run(sqlite_keys.write, self._conn, flow_id, component_id, key, event_id)

    async def prune_hook_keys(self, before: float) -> int:
        return await self._run(sqlite_keys.prune, self._conn, before)

    async def delete_hook_keys(self, flow_id: str) -> int:
        return await self._run(sqlite_keys.delete_flow, self._conn, flow_id)
