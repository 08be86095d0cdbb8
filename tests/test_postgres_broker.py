"""The durable broker on PostgreSQL: what survives a restart or a crash, dead letters and tick
units in one transaction, group commit, and rows held by a live broker left alone by another.

A crash is the pool terminated without closing the broker: the server ends those sessions,
as it does for a process killed with SIGKILL (``test_postgres_broker_processes.py`` kills real
processes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime.brokers.postgres import PostgresBroker
from runtime.brokers.postgres_channel import PostgresChannel
from runtime.brokers.sqlite import SQLiteBroker
from runtime.cli.broker_option import make_broker
from runtime.envelope import Envelope
from runtime.errors import ConfigurationError, StaleStateError
from runtime.stores.base import DeadLetter
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore


def envelope(n: int, component: str = "c") -> Envelope:
    return Envelope("f", component, "in", n, f"corr-{n}")


class Opened:
    """A store and a broker on one database that a test can restart or crash."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store: PostgresStore
        self.broker: PostgresBroker
        self.is_open = False

    async def open(self) -> Opened:
        self.store = await PostgresStore.open(self.url)
        self.broker = PostgresBroker(self.store)
        self.is_open = True
        return self

    async def close(self) -> None:
        await self.broker.close()
        await self.store.close()
        self.is_open = False

    async def crash(self) -> None:
        """Drop everything held in memory and the sessions: only what is committed is left."""
        self.store.pool.terminate()
        self.is_open = False

    async def restart(self, *, crash: bool = False) -> Opened:
        await (self.crash() if crash else self.close())
        return await self.open()

    async def rows(self) -> list[Any]:
        async with await PostgresStore.open(self.url) as store:
            return await store.pool.fetch(
                "SELECT component_id, parked, error, envelope_json, owner FROM messages"
                " ORDER BY seq"
            )


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Opened]:
    opened = await Opened(postgres_url).open()
    yield opened
    if opened.is_open:
        await opened.close()


def channel(db: Opened, maxsize: int = 10, component: str = "c") -> PostgresChannel:
    return db.broker.channel("f", component, maxsize=maxsize)


async def test_items_come_out_in_the_order_they_went_in_and_a_put_is_committed(
    db: Opened,
) -> None:
    queue = channel(db)
    for n in range(5):
        await queue.put(envelope(n))
    assert [row["owner"] for row in await db.rows()] == [await db.broker.number()] * 5
    assert [(await queue.get()).payload for _ in range(5)] == [0, 1, 2, 3, 4]
    assert queue.get_nowait() is None


async def test_acknowledged_messages_leave_the_table(db: Opened) -> None:
    queue = channel(db)
    await queue.put(envelope(1))
    await queue.ack(await queue.get())
    await db.broker.flush()
    assert await db.rows() == []


@pytest.mark.parametrize("crash", [False, True], ids=["after a stop", "after a crash"])
async def test_messages_taken_but_not_acknowledged_are_delivered_again(
    db: Opened, crash: bool
) -> None:
    queue = channel(db)
    for n in range(3):
        await queue.put(envelope(n))
    assert (await queue.get()).payload == 0  # taken, never acknowledged

    await db.restart(crash=crash)
    queue = channel(db)
    assert await queue.restore() == []
    assert [(await queue.get()).payload for _ in range(3)] == [0, 1, 2]


async def test_a_delayed_retry_keeps_its_attempt_and_its_due_time_across_a_crash(
    db: Opened,
) -> None:
    queue = channel(db)
    await queue.put(envelope(7))
    taken = await queue.get()
    taken.attempt = 3
    await queue.retry_later(taken, 0.3)

    await db.restart(crash=True)
    queue = channel(db)
    await queue.restore()
    assert queue.get_nowait() is None  # not due yet
    again = await asyncio.wait_for(queue.get(), 5)
    assert (again.payload, again.attempt) == (7, 3)


async def test_a_parked_message_survives_a_restart_and_is_delivered_when_unparked(
    db: Opened,
) -> None:
    queue = channel(db)
    await queue.put(envelope(3))
    await queue.park(await queue.get(), "re-authorize account acct-1")

    await db.restart()
    queue = channel(db)
    parked = await queue.restore()
    assert [(e.payload, why) for e, why in parked] == [(3, "re-authorize account acct-1")]
    assert queue.get_nowait() is None
    await queue.unpark(parked[0][0])
    assert (await queue.get()).payload == 3


async def test_a_dead_letter_and_the_removal_of_its_message_commit_together(db: Opened) -> None:
    queue = channel(db)
    await queue.put(envelope(4))
    taken = await queue.get()
    letter = DeadLetter("letter-4", taken, "HTTP 400", "ClientError", 1, time.time())
    await queue.dead_letter(taken, letter, db.store)

    assert await db.rows() == []
    assert [found.id for found in await db.store.list_dead_letters()] == ["letter-4"]


async def test_a_unit_commits_its_state_and_its_messages_together_or_neither(
    db: Opened,
) -> None:
    queue = channel(db)
    await db.broker.commit_unit([("f", "t", "seen", "1", 0)], [(queue, envelope(1))])
    assert (await queue.get()).payload == 1
    assert (await db.store.get_versioned_state("f", "t", "seen")).version == 1

    with pytest.raises(StaleStateError):  # the version read is no longer the stored one
        await db.broker.commit_unit([("f", "t", "seen", "2", 0)], [(queue, envelope(2))])

    assert queue.get_nowait() is None
    assert len(await db.rows()) == 1  # the first unit's message only
    assert await db.store.get_state("f", "t", "seen") == 1


async def test_concurrent_puts_share_transactions(db: Opened) -> None:
    queue = channel(db, maxsize=200)
    before = db.broker.transactions
    await asyncio.gather(*(queue.put(envelope(n)) for n in range(100)))
    assert db.broker.transactions - before < 50
    assert sorted(e.payload for e in [await queue.get() for _ in range(100)]) == list(range(100))


async def test_a_live_brokers_rows_are_left_alone_and_a_crashed_ones_are_swept(
    db: Opened, postgres_url: str
) -> None:
    queue = channel(db)
    for n in range(4):
        await queue.put(envelope(n))
    other = Opened(postgres_url)
    await other.open()
    try:
        theirs = channel(other)
        assert await theirs.restore() == []
        assert await other.broker.sweep() == 0
        assert theirs.depth() == 0

        await db.crash()
        # The server ends the dead session (and drops its lock) once it sees the socket
        # closed, a moment after the crash: a live broker's sweeps take its rows from then on.
        taken = 0
        for _ in range(200):
            taken = await other.broker.sweep()
            if taken:
                break
            await asyncio.sleep(0.05)
        assert taken == 4
        assert sorted([(await theirs.get()).payload for _ in range(4)]) == [0, 1, 2, 3]
    finally:
        await other.close()


async def test_a_sweep_takes_no_more_than_the_channels_room(db: Opened, postgres_url: str) -> None:
    queue = channel(db, maxsize=20)
    for n in range(10):
        await queue.put(envelope(n))
    db.broker.release("f")
    await db.broker.flush()
    other = Opened(postgres_url)
    await other.open()
    try:
        theirs = channel(other, maxsize=3)
        theirs.restored = True  # as if restored before the rows were released
        assert await other.broker.sweep() == 3
        assert theirs.depth() == 3
    finally:
        await other.close()


async def test_messages_for_a_component_the_flow_no_longer_has_are_handed_over_then_dropped(
    db: Opened,
) -> None:
    await channel(db, component="gone").put(envelope(1, "gone"))
    await channel(db).put(envelope(2))
    kept: list[Envelope] = []

    async def keep(stray: Envelope) -> None:
        kept.append(stray)

    assert await db.broker.take_strays("f", ["c"], keep) == 1
    assert [stray.payload for stray in kept] == [1]
    assert [row["component_id"] for row in await db.rows()] == ["c"]
    assert await db.broker.delete_flow("f") == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"], ids=["durable default", "explicit"])
async def test_the_durable_broker_of_a_postgres_database_is_the_postgres_broker(
    db: Opened, kind: str
) -> None:
    broker = make_broker(kind, db.store)
    assert isinstance(broker, PostgresBroker)
    await broker.close()


async def test_the_postgres_broker_on_a_sqlite_database_is_refused_naming_the_option(
    tmp_path: Path,
) -> None:
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        assert isinstance(make_broker("sqlite", store), SQLiteBroker)
        with pytest.raises(ConfigurationError, match="--broker postgres needs a postgresql://"):
            make_broker("postgres", store)
