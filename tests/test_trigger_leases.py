"""Polling triggers under leases, in one process with several engines on one store (as
several processes would share a database): one engine ticks a trigger at a time, a renewal
refused stops its ticking at once and another engine takes over, a stopped flow gives its
leases up, and the default single-process stores use no lease at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.engine import Engine, Output
from runtime.leases import TAKEOVER_FLOOR, LeaseTiming, TriggerLeases, lease_name
from runtime.stores.leases import Lease
from runtime.stores.memory import MemoryStore
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests import kit
from tests.test_ticker import polling


class RefusingStore(MemoryStore):
    """A memory store out of reach of owner ``refuse``: its renewals and grants fail (calling
    ``on_refusal`` the first time), those of other owners go on."""

    refuse: str | None = None
    refusals = 0

    def on_refusal(self) -> None: ...

    async def renew(self, lease: Lease, ttl: float) -> bool:
        if lease.owner == self.refuse:
            self.refusals += 1
            if self.refusals == 1:
                self.on_refusal()
            return False
        return await super().renew(lease, ttl)

    async def acquire(self, name: str, owner: str, ttl: float) -> Lease | None:
        if owner == self.refuse:
            raise ConnectionError("the database is out of reach")
        return await super().acquire(name, owner, ttl)


def _engines(store: MemoryStore, outputs: list[Output], floor: float) -> list[Engine]:
    return [
        Engine(
            store,
            on_output=outputs.append,
            leases=TriggerLeases(store, f"owner-{n}", floor=floor),
        )
        for n in range(2)
    ]


def _counts(outputs: list[Output]) -> list[int]:
    return [o.payload["count"] for o in outputs]


async def test_of_two_engines_sharing_a_store_only_the_lease_holder_ticks_a_trigger():
    kit.Counter.ticks_running = 0
    store, outputs = MemoryStore(), []
    first, second = _engines(store, outputs, floor=5.0)  # no renewal falls late here
    async with first, second:
        await first.start_flow(polling("f", interval=0.01))
        await second.start_flow(polling("f", interval=0.01))
        await kit.eventually(lambda: len(outputs) >= 10)
        ticks = [engine.stats("f")["poll"].ticks for engine in (first, second)]
        await first.stop_flow("f")
        await second.stop_flow("f")

    assert ticks[0] >= 10
    assert ticks[1] == 0
    assert _counts(outputs) == list(range(1, len(outputs) + 1))  # none missed or repeated


async def test_a_refused_renewal_stops_the_ticking_at_once_and_another_engine_takes_over():
    kit.Counter.ticks_running = 0
    store, outputs = RefusingStore(), []
    first, second = _engines(store, outputs, floor=0.6)  # ttl 0.3 s, renewals every 0.1 s
    ticks_then: list[int] = []
    store.on_refusal = lambda: ticks_then.append(first.stats("f")["poll"].ticks)  # type: ignore[method-assign]
    async with first, second:
        await first.start_flow(polling("f", interval=0.01))
        await kit.eventually(lambda: len(outputs) >= 3)
        await second.start_flow(polling("f", interval=0.01))
        store.refuse = "owner-0"
        await kit.eventually(lambda: second.stats("f")["poll"].ticks >= 5)
        first_ticks = first.stats("f")["poll"].ticks
        await first.stop_flow("f")
        await second.stop_flow("f")

    # A tick already running when the renewal was refused may finish; none starts after it.
    assert first_ticks <= ticks_then[0] + 1
    assert _counts(outputs) == list(range(1, len(outputs) + 1))


async def test_a_stopped_flow_gives_its_triggers_leases_up_at_once():
    kit.Counter.ticks_running = 0
    store, outputs = MemoryStore(), []
    first, _ = _engines(store, outputs, floor=TAKEOVER_FLOOR)
    async with first:
        await first.start_flow(polling("f"))
        await kit.eventually(lambda: len(outputs) >= 1)
        held = await store.holder(lease_name("f", "poll"))
        assert held is not None
        assert held.owner == "owner-0"
        await first.stop_flow("f")
        assert await store.holder(lease_name("f", "poll")) is None


async def test_a_trigger_another_engine_holds_is_taken_when_that_engine_stops_it():
    kit.Counter.ticks_running = 0
    store, outputs = MemoryStore(), []
    first, second = _engines(store, outputs, floor=0.4)  # tries every 0.1 s
    async with first, second:
        await first.start_flow(polling("f", interval=3600))
        await kit.eventually(lambda: len(outputs) == 1)
        await second.start_flow(polling("f", interval=3600))
        await first.stop_flow("f")
        await kit.eventually(lambda: len(outputs) == 2)
        assert second.stats("f")["poll"].ticks == 1
        await second.stop_flow("f")
    assert _counts(outputs) == [1, 2]


async def test_the_embedded_stores_use_no_leases_and_postgres_does(
    tmp_path: Path, postgres_url: str
) -> None:
    assert Engine(MemoryStore()).leases is None
    sqlite = await SQLiteStore.open(tmp_path / "flowmixer.db")
    postgres = await PostgresStore.open(postgres_url)
    try:
        assert Engine(sqlite).leases is None
        shared = Engine(postgres)
        assert shared.leases is not None
        assert shared.leases.owner == shared.owner
    finally:
        await sqlite.close()
        await postgres.close()


def test_an_engines_owner_id_names_its_host_and_process_and_differs_per_engine():
    first, second = Engine(MemoryStore()), Engine(MemoryStore())
    assert re.fullmatch(r".+:\d+:[0-9a-f]{8}", first.owner)
    assert first.owner != second.owner


@given(interval=st.one_of(st.none(), st.floats(0.001, 86_400)), floor=st.floats(0.01, 120))
def test_a_dead_owners_trigger_is_taken_over_within_the_interval_or_the_floor(
    interval: float | None, floor: float
) -> None:
    timing = LeaseTiming.for_interval(interval, floor)
    bound = max(interval or 0.0, floor)
    # Its lease runs out at most ttl after the last renewal; a contender tries every retry_every.
    assert timing.ttl + timing.retry_every <= bound
    assert timing.renew_every * 2 < timing.ttl  # a renewal may be late once and still hold


@pytest.mark.parametrize("floor", [0.0, -1.0], ids=["zero", "negative"])
def test_a_takeover_floor_that_is_not_positive_is_refused(floor: float) -> None:
    with pytest.raises(ValueError, match="floor"):
        TriggerLeases(MemoryStore(), "owner", floor=floor)
