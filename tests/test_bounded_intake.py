"""Bounded intake: the channel contract on both brokers (the bound counts every message held;
retries never wait for room; a bounded admit commits nothing when refused; idempotency keys),
and the engine's pushes, deferral counters and stops built on it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.brokers.base import Broker, Channel
from runtime.brokers.memory import MemoryBroker
from runtime.brokers.postgres import PostgresBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.engine import Engine
from runtime.envelope import Envelope
from runtime.errors import DuplicateEventError, IntakeFullError
from runtime.plan import FlowPlan
from runtime.retry import RetryPolicy
from runtime.stores.base import IdempotencyKey, Store
from runtime.stores.memory import MemoryStore
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests import kit
from tests.postgres_server import create_database

BROKERS = ["memory", "sqlite", "postgres"]


class Opened:
    """A store and a broker of one kind; the SQLite one over a file a test can read."""

    def __init__(self, kind: str, path: Path, url: str = "") -> None:
        self.kind = kind
        self.path = path
        self.url = url  # the PostgreSQL database's, for the postgres kind
        self.store: Store
        self.broker: Broker

    async def __aenter__(self) -> Opened:
        if self.kind == "sqlite":
            sqlite_store = await SQLiteStore.open(self.path)
            self.store, self.broker = sqlite_store, SQLiteBroker(sqlite_store)
        elif self.kind == "postgres":
            postgres_store = await PostgresStore.open(self.url)
            self.store, self.broker = postgres_store, PostgresBroker(postgres_store)
        else:
            self.store, self.broker = MemoryStore(), MemoryBroker()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.close()
        await self.store.close()

    async def rows(self) -> int:
        """Messages committed to the database (0 for the in-memory broker)."""
        if isinstance(self.store, PostgresStore):
            return int(await self.store.pool.fetchval("SELECT count(*) FROM messages"))
        if self.kind != "sqlite":
            return 0
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


@pytest.fixture(params=BROKERS)
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    url = ""
    if request.param == "postgres":
        url = await create_database(request.getfixturevalue("postgres_cluster"))
    async with Opened(request.param, tmp_path / "db", url) as found:
        yield found


def envelope(n: int) -> Envelope:
    return Envelope("f", "c", "in", n, f"corr-{n}", id=f"event-{n}")


async def take(channel: Channel) -> Envelope:
    return channel.get_nowait() or await asyncio.wait_for(channel.get(), 2)


async def fill(channel: Channel, count: int) -> None:
    for n in range(count):
        await channel.put(envelope(n))


async def held_for_retry(channel: Channel, count: int, delay: float = 60.0) -> None:
    """Take ``count`` messages and hand each back for a retry after ``delay``."""
    for _ in range(count):
        await channel.retry_later(await take(channel), delay)


# -- the channel contract ----------------------------------------------------------------------


async def test_messages_delayed_for_a_retry_count_against_the_bound(opened: Opened) -> None:
    channel = opened.broker.channel("f", "c", maxsize=3)
    await fill(channel, 3)
    await held_for_retry(channel, 3)  # a quota deferral is such a retry
    assert channel.depth() == 3
    assert not await channel.admit(envelope(9), 0.05)
    waiting = asyncio.ensure_future(channel.put(envelope(9)))
    await asyncio.sleep(0.05)
    assert not waiting.done(), "a put into a channel full of delayed messages waits"
    waiting.cancel()


async def test_a_parked_message_counts_against_the_bound_until_it_is_unparked(
    opened: Opened,
) -> None:
    channel = opened.broker.channel("f", "c", maxsize=1)
    await fill(channel, 1)
    parked = await take(channel)
    await channel.park(parked, "needs its account connected again")
    assert not await channel.admit(envelope(9), 0.02)
    await channel.unpark(parked)  # never waits: it is already counted
    assert (await take(channel)).payload == parked.payload
    assert await channel.admit(envelope(9), 0.0)


async def test_a_retry_never_waits_for_room_even_in_a_full_channel(opened: Opened) -> None:
    channel = opened.broker.channel("f", "c", maxsize=2)
    await fill(channel, 2)
    first = await take(channel)
    await channel.put(envelope(2))  # full again while `first` is in a handler
    await asyncio.wait_for(channel.retry_later(first, 0.0), 1)
    await asyncio.sleep(0.01)
    got = [(await take(channel)).payload for _ in range(3)]
    assert sorted(got) == [0, 1, 2]


async def test_an_admit_refused_after_its_wait_publishes_and_commits_nothing(
    opened: Opened,
) -> None:
    channel = opened.broker.channel("f", "c", maxsize=2)
    await fill(channel, 2)
    rows = await opened.rows()
    began = time.monotonic()
    assert not await channel.admit(envelope(5), 0.1)
    assert time.monotonic() - began >= 0.09
    assert channel.depth() == 2
    assert await opened.rows() == rows


async def test_an_admit_waiting_for_room_is_published_once_a_message_leaves(
    opened: Opened,
) -> None:
    channel = opened.broker.channel("f", "c", maxsize=1)
    await fill(channel, 1)
    admitted = asyncio.ensure_future(channel.admit(envelope(5), 5))
    await asyncio.sleep(0.02)
    await take(channel)
    assert await admitted
    assert (await take(channel)).payload == 5


async def test_a_stopping_channel_lets_waiting_publishes_through(opened: Opened) -> None:
    channel = opened.broker.channel("f", "c", maxsize=1)
    await fill(channel, 1)
    waiting = asyncio.ensure_future(channel.put(envelope(1)))
    await asyncio.sleep(0.01)
    channel.stopping()
    await asyncio.wait_for(waiting, 1)
    assert channel.depth() == 2


async def test_an_idempotency_key_is_recorded_with_its_event_and_a_repeat_publishes_nothing(
    opened: Opened,
) -> None:
    channel = opened.broker.channel("f", "c", maxsize=5)
    key = IdempotencyKey("order-42", since=time.time() - 60)
    assert await channel.admit(envelope(1), 1, key=key, store=opened.store)
    rows = await opened.rows()
    with pytest.raises(DuplicateEventError) as raised:
        await channel.admit(envelope(2), 1, key=key, store=opened.store)
    assert raised.value.event_id == "event-1"
    assert await opened.store.find_hook_key("f", "c", key) == "event-1"
    assert channel.depth() == 1
    assert await opened.rows() == rows


async def test_a_key_older_than_its_window_names_a_new_event(opened: Opened) -> None:
    channel = opened.broker.channel("f", "c", maxsize=5)
    old = IdempotencyKey("order-42", since=time.time() - 60)
    assert await channel.admit(envelope(1), 1, key=old, store=opened.store)
    await asyncio.sleep(0.01)
    later = IdempotencyKey("order-42", since=time.time())  # the first record is too old now
    assert await opened.store.find_hook_key("f", "c", later) is None
    assert await channel.admit(envelope(2), 1, key=later, store=opened.store)
    assert await opened.store.find_hook_key("f", "c", later) == "event-2"
    assert await opened.store.prune_hook_keys(time.time() + 5) == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    maxsize=st.integers(1, 6),
    steps=st.lists(st.sampled_from(["put", "take", "retry", "due"]), max_size=30),
)
def test_the_bound_counts_ready_and_delayed_messages_and_loses_none(
    maxsize: int, steps: list[str]
) -> None:
    async def run() -> None:
        channel = MemoryBroker().channel("f", "c", maxsize=maxsize)
        held, taken, published = 0, [], []
        for n, step in enumerate(steps):
            if step == "put":
                admitted = await channel.admit(envelope(n), 0)
                assert admitted == (held < maxsize)
                if admitted:
                    held += 1
                    published.append(n)
            elif step == "take" and (got := channel.get_nowait()) is not None:
                taken.append(got)
                held -= 1
            elif step == "retry" and taken:
                await channel.retry_later(taken.pop(), 0.0)  # never refused, never waits
                held += 1
            elif step == "due":
                await asyncio.sleep(0.001)
            assert channel.depth() == held
        assert sorted(e.payload for e in taken + channel.drain()) == published

    asyncio.run(run())


# -- the engine --------------------------------------------------------------------------------


def deferring_plan(flow_id: str = "f") -> FlowPlan:
    """hook -> slow: every message is deferred for a long time (a tiny quota)."""
    return kit.plan(
        flow_id,
        {"hook": "Hook", "slow": "Flaky"},
        [("hook", "slow")],
        properties={"slow": {"failures": 10**6, "kind": "defer", "delay": 3600}},
        concurrency={"slow": 4},
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, max_elapsed=None),
    )


async def test_a_flow_whose_messages_are_deferred_refuses_pushes_at_its_bound(
    opened: Opened,
) -> None:
    async with Engine(opened.store, broker=opened.broker, queue_size=4) as engine:
        await engine.start_flow(deferring_plan())
        accepted = refused = 0
        for n in range(40):
            try:
                await engine.push("f", "hook", {"n": n}, wait=0.02)
                accepted += 1
            except IntakeFullError:
                refused += 1
        stats = engine.stats("f")["slow"]
        held = sum(engine.depths("f").values())
        await engine.stop_flow("f", timeout=30)

    # slow holds its bound of deferred messages; hook holds its bound of ready ones, plus at
    # most its one worker's message waiting for room in slow.
    assert accepted <= 4 + 4 + 1
    assert accepted + refused == 40
    assert held <= accepted
    assert stats.deferred >= 4
    assert (stats.failed, stats.retried) == (0, 0), "deferrals are not failures or retries"


async def test_a_push_with_a_used_key_is_refused_naming_the_first_event(opened: Opened) -> None:
    key = IdempotencyKey("k-1", since=time.time() - 60)
    async with Engine(opened.store, broker=opened.broker) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook"}, []))
        first = await engine.push("f", "hook", {"n": 1}, key=key)
        with pytest.raises(DuplicateEventError) as raised:
            await engine.push("f", "hook", {"n": 2}, key=key)
        await engine.wait_idle("f")
        await engine.stop_flow("f")
    assert raised.value.event_id == first


async def test_stopping_a_durable_flow_with_deferred_messages_returns_at_once_and_keeps_them(
    tmp_path: Path,
) -> None:
    async with Opened("sqlite", tmp_path / "db") as db:
        async with Engine(db.store, broker=db.broker, queue_size=50) as engine:
            await engine.start_flow(deferring_plan())
            for n in range(20):
                await engine.push("f", "hook", {"n": n})
            await kit.eventually(lambda: engine.stats("f")["slow"].deferred >= 20)
            began = time.monotonic()
            await engine.stop_flow("f", timeout=30)
            took = time.monotonic() - began
        rows = await db.rows()
    assert took < 5, f"the stop waited {took:.1f} s for messages it keeps anyway"
    assert rows == 20


async def test_stopping_a_flow_in_memory_does_not_wait_for_retries_due_after_its_deadline() -> None:
    store = MemoryStore()
    async with Engine(store, queue_size=50) as engine:
        await engine.start_flow(deferring_plan())
        for n in range(10):
            await engine.push("f", "hook", {"n": n})
        await kit.eventually(lambda: engine.stats("f")["slow"].deferred >= 10)
        began = time.monotonic()
        await engine.stop_flow("f", timeout=30)
        took = time.monotonic() - began
    letters = await store.list_dead_letters(flow_id="f")
    assert took < 5, f"the stop waited {took:.1f} s for retries due in an hour"
    assert len(letters) == 10, "what the stop could not deliver is kept as dead letters"
