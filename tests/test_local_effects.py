"""The effects ledger with the in-memory broker: this process's events are answered from memory
and written behind, and every answer is the one the store itself would give.

A real SQLite file throughout. The model is :class:`EffectWrites` straight on a
:class:`MemoryStore`: for any sequence of reads, claims and writes, on events of this process
and of others (made before a restart), with records evicted along the way, the local ledger
answers the same and leaves the same rows in the file.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.local_effects import WRITE_DELAY, LocalEffectWrites
from runtime.brokers.memory import MemoryBroker
from runtime.effect_writes import EffectWrites
from runtime.effects import EffectLedger
from runtime.envelope import Envelope, new_event_id
from runtime.stores import sqlite_effect_rows
from runtime.stores.base import DeadLetter, EffectRecord
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

PIN = {"title": "Soup", "board_id": "b1"}
_flows = itertools.count()
_foreign = itertools.count(1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "flowmixer.db")
    async with opened:
        yield opened


def local_writes(store: SQLiteStore, keep: int = 4096) -> LocalEffectWrites:
    import structlog

    logger = structlog.get_logger("test")
    commits = GroupCommit(store, logger=logger)
    return LocalEffectWrites(store, commits, sqlite_effect_rows, logger, keep=keep)


def foreign_event_id() -> str:
    """An event id another process made (or this one before a restart)."""
    return f"{'f' * 16}{next(_foreign):016x}"


def record(flow: str, event: str, attempts: int, *, done: bool = False) -> EffectRecord:
    return EffectRecord(
        flow,
        "pin",
        event,
        "digest",
        updated_at=float(attempts),
        attempts=attempts,
        first_sent_at=1.0 if attempts else None,
        uncertain=not done,
        completed_at=2.0 if done else None,
        result={"id": f"pin-{event[-4:]}"} if done else None,
        ref=f"pin-{event[-4:]}" if done else None,
    )


async def test_an_event_of_this_process_is_answered_from_memory_and_written_once_behind(
    store: SQLiteStore,
):
    writes = local_writes(store)
    event = new_event_id()
    name = ("f", "pin", event, "digest")

    assert await writes.claim(record("f", event, 1))
    await writes.put_before_ack(record("f", event, 1, done=True))
    seen = await writes.get(name)
    in_file_at_once = await store.get_effect(*name)
    await asyncio.sleep(WRITE_DELAY * 3)
    await writes._writes.flush()

    assert seen is not None
    assert seen.done
    assert in_file_at_once is None  # written behind, not on the hot path
    kept = await store.get_effect(*name)
    assert kept == seen
    assert writes._writes.transactions == 1  # the claim and the result: one row, one commit


async def test_an_event_made_before_a_restart_is_read_and_claimed_in_the_store(
    store: SQLiteStore,
):
    event = foreign_event_id()
    name = ("f", "pin", event, "digest")
    await store.put_effect(record("f", event, 1))  # the attempt of the previous run
    writes = local_writes(store)

    seen = await writes.get(name)
    stale = await writes.claim(record("f", event, 1))  # the same attempt again: refused
    won = await writes.claim(record("f", event, 2))

    assert seen == record("f", event, 1)
    assert (stale, won) == (False, True)
    kept = await store.get_effect(*name)
    assert kept is not None
    assert kept.attempts == 2  # claimed in the file, not only here


async def test_a_dead_letter_is_written_after_the_records_of_its_effects(store: SQLiteStore):
    broker = MemoryBroker()
    ledger = EffectLedger(store, "f", "pin", writes=broker.effect_writes(store))
    event = new_event_id()
    effect = await ledger.begin(event, PIN)
    await effect.sending()  # the request went out; its answer was lost
    effect.landed()
    channel = broker.channel("f", "pin", maxsize=4)
    envelope = Envelope("f", "pin", "in", PIN, event)
    await channel.put(envelope)
    await channel.get()
    letter = DeadLetter("letter-1", envelope, "the answer was lost", "TransportError", 5, 3.0)

    await channel.dead_letter(envelope, letter, store)
    kept = await store.get_effect("f", "pin", event, effect._record.digest)

    assert kept is not None  # at once: a crash now must not lose what the letter's retry needs
    assert (kept.uncertain, kept.attempts) == (True, 1)
    assert await store.get_dead_letter(letter.id) is not None
    await broker.close()


async def test_evicted_records_are_found_in_the_store_and_claims_stay_guarded(
    store: SQLiteStore,
):
    writes = local_writes(store, keep=8)
    events = [new_event_id() for _ in range(40)]
    for event in events:
        assert await writes.claim(record("f", event, 1))

    first = ("f", "pin", events[0], "digest")
    assert events[0] not in {name[2] for name in writes._records}  # evicted
    assert await writes.get(first) == record("f", events[0], 1)  # from the file
    assert not await writes.claim(record("f", events[0], 1))  # still refused
    assert await writes.claim(record("f", events[0], 2))


# -- the same answers as the store's own ----------------------------------------------------

_operation = st.tuples(
    st.sampled_from(["get", "claim", "put"]),
    st.integers(min_value=0, max_value=5),  # which event: 0-3 of this process, 4-5 of another
    st.integers(min_value=0, max_value=3),  # attempts
    st.booleans(),  # done
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(_operation, max_size=40), keep=st.integers(min_value=1, max_value=6))
async def test_any_sequence_of_calls_answers_and_stores_as_the_store_itself_does(
    store: SQLiteStore, operations: list[tuple[str, int, int, bool]], keep: int
):
    flow = f"flow-{next(_flows)}"  # the examples share the file
    events = [new_event_id() for _ in range(4)] + [foreign_event_id() for _ in range(2)]
    model = EffectWrites(MemoryStore())
    subject = local_writes(store, keep=keep)

    for kind, which, attempts, done in operations:
        event = events[which]
        name = (flow, "pin", event, "digest")
        answers: list[Any] = []
        for writes in (model, subject):
            if kind == "get":
                answers.append(await writes.get(name))
            elif kind == "claim":
                answers.append(await writes.claim(record(flow, event, attempts, done=done)))
            else:
                answers.append(await writes.put(record(flow, event, attempts, done=done)))
        assert answers[0] == answers[1], (kind, which, attempts, done)

    await subject.settle()
    for event in events:
        name = (flow, "pin", event, "digest")
        assert await store.get_effect(*name) == await model.get(name)
