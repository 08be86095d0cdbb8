"""What the durable channels share: a component's queue mirrored in memory over table rows.

Both durable brokers (SQLite, PostgreSQL) keep each message as a row and mirror the rows a
channel holds in memory: ready (in order), delayed (with their timers), taken (handed out, not
settled) and parked. :class:`RowQueue` is that bookkeeping and every outcome that is the same on
both databases; a channel gives the row statements (``rows``: ``insert``, ``update``,
``delete``, each taking its connection last) and the write queue they go through (``_writes``:
group-committed, ``on_commit`` run on the loop once committed).
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from runtime.brokers.waiters import Waiters, wait, wake_next
from runtime.redaction import redact_text
from runtime.stores import codec

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.envelope import Envelope
    from runtime.stores.base import DeadLetter, IdempotencyKey, Store


class RowStatements(Protocol):
    """The row statements of one database (a module such as ``runtime.stores.sqlite_messages``)."""

    insert: Callable[..., Any]
    insert_event: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    bury: Callable[..., Any]


class RowWrites(Protocol):
    """A write queue: ``work`` runs in a transaction; callbacks run once it is settled."""

    def submit(
        self,
        work: Any,
        *,
        on_commit: Callable[[Any], None] | None = None,
        on_fail: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Future[Any]: ...

    def submit_nowait(self, work: Any) -> None: ...


class RowQueue:
    """The in-memory mirror of a durable channel's rows, and the outcomes both databases
    settle alike: get, ack, retry later, dead-letter, park, unpark, drain, stop.

    ``store`` is the store whose database holds the rows: a dead letter for it is written
    with the row's removal, in one transaction."""

    rows: ClassVar[RowStatements]
    _writes: RowWrites

    def __init__(
        self,
        writes: RowWrites,
        store: object,
        flow_id: str,
        component_id: str,
        maxsize: int,
        logger: FilteringBoundLogger,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.flow_id = flow_id
        self.component_id = component_id
        self._writes = writes
        self._store = store
        self._logger = logger
        self._maxsize = maxsize
        self._ready: collections.deque[tuple[int, Envelope]] = collections.deque()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putters: Waiters = collections.deque()
        self._reserved = 0  # puts waiting for their commit: they count against the bound
        self._taken: dict[Envelope, int] = {}  # envelope -> row, handed out and not settled
        self._delayed: dict[Envelope, tuple[int, asyncio.TimerHandle | None]] = {}
        self._parked: dict[Envelope, int] = {}
        self.restored = False
        self.closed = False  # the flow is stopping: nothing more is handed out

    def _has_room(self) -> bool:
        raise NotImplementedError

    def _has_items(self) -> bool:
        return bool(self._ready) and not self.closed

    def get_nowait(self) -> Envelope | None:
        if not self._ready or self.closed:
            return None
        seq, envelope = self._ready.popleft()
        self._taken[envelope] = seq
        if self._putters:
            wake_next(self._putters)
        return envelope

    def stopping(self) -> None:
        self.closed = True
        self._maxsize = sys.maxsize
        while self._putters:
            wake_next(self._putters)

    async def dead_letter(self, envelope: Envelope, letter: DeadLetter, store: Store) -> None:
        seq = self._taken.get(envelope)
        if seq is None or store is not self._store:
            await super().dead_letter(envelope, letter, store)  # type: ignore[misc]
            return
        text = codec.encode_envelope(letter.envelope)

        def settled(_: None) -> None:
            self._taken.pop(envelope, None)

        await self._writes.submit(partial(self.rows.bury, seq, letter, text), on_commit=settled)

    async def put(self, envelope: Envelope) -> None:
        text = codec.encode_envelope(envelope)
        await self.wait_for_room()
        self._reserved += 1
        work = partial(self.rows.insert, self.flow_id, self.component_id, time.time(), text, None)
        await self._writes.submit(
            work, on_commit=partial(self._arrived, envelope), on_fail=self._unreserve
        )

    async def admit(
        self,
        envelope: Envelope,
        wait: float | None,
        *,
        key: IdempotencyKey | None = None,
        store: Store | None = None,
    ) -> bool:
        """Take a webhook's event within ``wait`` s of room; its idempotency ``key`` is written
        in the same transaction when ``store`` is this channel's."""
        if key is not None and store is not self._store:
            # Channel's admit, which RowQueue is mixed in before.
            admitted: bool = await super().admit(  # type: ignore[misc]
                envelope, wait, key=key, store=store
            )
            return admitted
        text = codec.encode_envelope(envelope)
        try:
            async with asyncio.timeout(wait):
                await self.wait_for_room()
        except TimeoutError:
            return False
        self._reserved += 1  # no await since the room was seen: it is still there
        rows = self.rows
        work = partial(rows.insert_event, self.flow_id, self.component_id, text, envelope.id, key)
        await self._writes.submit(
            work, on_commit=partial(self._arrived, envelope), on_fail=self._unreserve
        )
        return True

    def _append(self, seq: int, envelope: Envelope) -> None:
        self._ready.append((seq, envelope))
        if self._getters:
            wake_next(self._getters)

    async def get(self) -> Envelope:
        while not self._has_items():
            await wait(self._getters, self._has_items)
        envelope = self.get_nowait()
        assert envelope is not None
        return envelope

    async def wait_for_room(self) -> None:
        while not self._has_room():
            await wait(self._putters, self._has_room)

    def _arrived(self, envelope: Envelope, seq: int) -> None:
        self._reserved -= 1
        self._append(seq, envelope)

    def _unreserve(self, _error: BaseException | None = None) -> None:
        self._reserved -= 1
        if self._putters and self._has_room():
            wake_next(self._putters)

    # -- delivery outcome ------------------------------------------------------------------

    async def ack(self, envelope: Envelope) -> None:
        seq = self._taken.pop(envelope, None)
        if seq is not None:
            self._writes.submit_nowait(partial(self.rows.delete, (seq,)))

    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        due = time.time() + delay
        text = codec.encode_envelope(envelope)
        seq = self._taken.pop(envelope, None)
        if seq is None:  # not handed out by this channel: keep it as a new message
            seq = await self._writes.submit(
                partial(self.rows.insert, self.flow_id, self.component_id, due, text, None)
            )
        else:
            self._delayed[envelope] = (seq, None)
            try:
                await self._writes.submit(partial(self.rows.update, seq, due, text, None))
            except Exception as exc:  # the row keeps its old attempt; it still comes back
                self._logger.warning(
                    "could not record a retry", error=f"{type(exc).__name__}: {exc}"
                )
            if envelope not in self._delayed:  # drained meanwhile
                return
        handle = asyncio.get_running_loop().call_later(delay, self._due, envelope)
        self._delayed[envelope] = (seq, handle)

    def _due(self, envelope: Envelope) -> None:
        # Counted by the bound while delayed: it becomes ready without waiting for room.
        entry = self._delayed.pop(envelope, None)
        if entry is not None:
            self._append(entry[0], envelope)

    def drain(self) -> list[Envelope]:
        """Take what is held, removing it from the table too (the caller keeps it now)."""
        self.forget()
        held = list(self._delayed)
        seqs = [seq for seq, _ in self._delayed.values()]
        self._delayed.clear()
        held.extend(envelope for _, envelope in self._ready)
        seqs.extend(seq for seq, _ in self._ready)
        self._ready.clear()
        if seqs:
            self._writes.submit_nowait(partial(self.rows.delete, seqs))
        return held

    def forget(self) -> None:
        """Stop the timers of delayed retries (their rows stay for the next start)."""
        for _, handle in self._delayed.values():
            if handle is not None:
                handle.cancel()

    # -- parking ---------------------------------------------------------------------------

    async def park(self, envelope: Envelope, error: str) -> None:
        error = redact_text(error)
        text = codec.encode_envelope(envelope)
        seq = self._taken.get(envelope)
        if seq is None:
            work = partial(
                self.rows.insert, self.flow_id, self.component_id, time.time(), text, error
            )
            seq = await self._writes.submit(work)
        else:
            await self._writes.submit(partial(self.rows.update, seq, time.time(), text, error))
            del self._taken[envelope]
        self._parked[envelope] = seq

    async def unpark(self, envelope: Envelope) -> None:
        seq = self._parked.pop(envelope, None)
        if seq is None:
            await self.put(envelope)
            return
        text = codec.encode_envelope(envelope)
        self._reserved += 1  # counted while parked: it needs no room

        def failed(error: BaseException) -> None:
            self._parked[envelope] = seq
            self._unreserve(error)

        await self._writes.submit(
            partial(self.rows.update, seq, time.time(), text, None),
            on_commit=lambda _: self._arrived(envelope, seq),
            on_fail=failed,
        )
