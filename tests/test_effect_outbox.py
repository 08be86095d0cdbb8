"""The effects ledger on a durable broker: its calls ride the broker's group commit.

A real SQLite file with a :class:`SQLiteBroker`, and a real PostgreSQL database with a
:class:`PostgresBroker`: the claims of concurrent workers share transactions, a refused claim
stays refused in a batch, and a result that is queued (not awaited) is read back by the same
process and committed with the ack after it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.brokers.base import Broker
from runtime.brokers.memory import MemoryBroker
from runtime.brokers.postgres import PostgresBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.effect_writes import EffectWrites
from runtime.effects import EffectClaimedError, EffectLedger
from runtime.envelope import Envelope
from runtime.stores.base import Store
from runtime.stores.memory import MemoryStore
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests.postgres_server import PostgresCluster, create_database

PIN = {"title": "Soup", "board_id": "b1"}
_events = itertools.count()  # one event per example: the examples share a database


Opened = tuple[Store, SQLiteBroker | PostgresBroker]


@pytest.fixture(params=["sqlite", "postgres"])
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    if request.param == "sqlite":
        store = await SQLiteStore.open(tmp_path / "flowmixer.db")
        async with store, SQLiteBroker(store) as broker:
            yield store, broker
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")  # skips without one
    pg_store = await PostgresStore.open(await create_database(cluster))
    async with pg_store, PostgresBroker(pg_store) as pg_broker:
        yield pg_store, pg_broker


def ledger_on(store: Store, broker: Broker) -> EffectLedger:
    return EffectLedger(store, "f", "pin", writes=broker.effect_writes(store))


async def test_the_broker_queues_the_ledger_only_for_its_own_store(
    opened: Opened,
):
    store, broker = opened

    assert type(broker.effect_writes(store)) is not EffectWrites
    assert type(broker.effect_writes(MemoryStore())) is EffectWrites
    assert type(MemoryBroker().effect_writes(MemoryStore())) is EffectWrites


async def test_concurrent_claims_share_the_brokers_transactions(
    opened: Opened,
):
    store, broker = opened
    ledger = ledger_on(store, broker)
    effects = [await ledger.begin(f"event-{n}", PIN) for n in range(32)]
    await broker.flush()
    before = broker.transactions

    await asyncio.gather(*(effect.sending() for effect in effects))

    used = broker.transactions - before
    assert used <= 2, f"32 concurrent claims took {used} transactions"
    for n in range(32):
        record = await store.get_effect("f", "pin", f"event-{n}", effects[n]._record.digest)
        assert record is not None
        assert (record.uncertain, record.attempts) == (True, 1)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deliveries=st.integers(min_value=2, max_value=6))
async def test_of_claims_of_one_attempt_batched_together_exactly_one_wins(
    opened: Opened, deliveries: int
):
    store, broker = opened
    event = f"event-{next(_events)}"
    # Several deliveries of one message, each its own ledger (as in two processes).
    effects = [await ledger_on(store, broker).begin(event, PIN) for _ in range(deliveries)]
    before = broker.transactions

    outcomes = await asyncio.gather(
        *(effect.sending() for effect in effects), return_exceptions=True
    )

    assert broker.transactions - before <= 2  # they were batched, not one by one
    assert outcomes.count(None) == 1
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, EffectClaimedError) for o in refused)
    record = await store.get_effect("f", "pin", event, effects[0]._record.digest)
    assert record is not None
    assert record.attempts == 1  # the refused ones changed nothing


async def test_a_result_not_yet_committed_is_seen_by_the_next_begin_and_by_lookups(
    opened: Opened,
):
    store, broker = opened
    ledger = ledger_on(store, broker)
    effect = await ledger.begin("event-1", PIN)
    await effect.sending()
    effect.landed()

    await effect.complete({"id": "pin-1"}, ref="pin-1")  # queued, not awaited
    again = await ledger.begin("event-1", PIN)
    other = await ledger.begin("event-2", PIN)

    assert again.done
    assert again.result == {"id": "pin-1"}
    assert await other.claimed(["pin-1", "pin-2"]) == {"pin-1"}


async def test_a_result_commits_no_later_than_the_ack_queued_after_it(
    opened: Opened,
):
    store, broker = opened
    channel = broker.channel("f", "pin", maxsize=10)
    await channel.put(Envelope("f", "pin", "in", PIN, "event-1"))
    envelope = await channel.get()
    effect = await ledger_on(store, broker).begin("event-1", PIN)
    await effect.sending()
    effect.landed()
    await broker.flush()
    before = broker.transactions

    await effect.complete({"id": "pin-1"}, ref="pin-1")
    await channel.ack(envelope)
    await broker.flush()

    assert broker.transactions - before == 1  # the result and the ack: one commit
    record = await store.get_effect("f", "pin", "event-1", effect._record.digest)
    assert record is not None
    assert (record.done, record.ref) == (True, "pin-1")


async def test_with_the_memory_broker_a_queued_result_is_read_back_and_committed_by_close(
    tmp_path: Path,
):
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    async with store:
        broker = MemoryBroker()
        ledger = ledger_on(store, broker)
        effects = [await ledger.begin(f"event-{n}", PIN) for n in range(16)]
        await asyncio.gather(*(effect.sending() for effect in effects))
        for effect in effects:
            effect.landed()
            await effect.complete({"id": effect._record.correlation_id}, ref=None)

        again = await ledger.begin("event-3", PIN)  # before anything is committed
        await broker.close()  # commits what is still queued
        kept = await store.get_effect("f", "pin", "event-3", again._record.digest)

    assert again.done
    assert again.result == {"id": "event-3"}
    assert kept is not None
    assert kept.result == {"id": "event-3"}
