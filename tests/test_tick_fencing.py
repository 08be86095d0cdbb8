"""Two tickers of one polling trigger (two engines, each with its own connection to one SQLite
file or its own pool on one PostgreSQL database, as two processes would have): both list the
same new items, only one tick commits, and the items are sent once. The loser's unit of work
rolls back with its fenced state write. On PostgreSQL the trigger's lease keeps a second ticker
from ticking at all; the race here is run without it, as the fence behind the lease. A unit
whose lease passed to another owner commits nothing either."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from runtime.brokers.base import Broker
from runtime.brokers.postgres import PostgresBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.component import Context
from runtime.connector.polling_trigger import STATE_KEY, PollingTrigger
from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.errors import LeaseLostError
from runtime.manifest import ComponentManifest
from runtime.plan import FlowPlan, NodePlan, Route
from runtime.stores.base import Store
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests import kit
from tests.postgres_server import create_database

ITEMS = [{"id": str(n), "created_at": 1_700_000_000 + n} for n in range(3)]


class RacingFeed(PollingTrigger):
    """Lists ``ITEMS``; the first tick of each ticker waits at ``gate`` until both tickers
    have read the trigger's state, so both list the same items from the same version."""

    gate: asyncio.Barrier

    async def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        if self._ticks == 1:
            await RacingFeed.gate.wait()
        for item in ITEMS:
            yield item


def _manifest(name: str, handler: str, *, tick: bool) -> ComponentManifest:
    return ComponentManifest.model_validate(
        {
            "name": f"test.fencing.{name}",
            "label": name,
            "description": "test component",
            "handler": handler,
            "inPorts": [] if tick else [{"name": "in"}],
            "outPorts": [{"name": "out"}],
            "tick": {"interval": 60} if tick else None,
        }
    )


def _plan() -> FlowPlan:
    watch = _manifest("RacingFeed", "tests.test_tick_fencing:RacingFeed", tick=True)
    echo = _manifest("Echo", "tests.kit:Echo", tick=False)
    return FlowPlan(
        id="race",
        name="race",
        nodes={
            "watch": NodePlan(
                id="watch",
                type=watch.name,
                manifest=watch,
                handler=RacingFeed,
                properties={"emitExisting": True},
                routes={"out": (Route("sink", "in"),)},
                tick_interval=3600,  # one tick each: the one that races
            ),
            "sink": NodePlan(
                id="sink",
                type=echo.name,
                manifest=echo,
                handler=kit.Echo,
                properties={},
                routes={"out": ()},
            ),
        },
    )


class UnleasedPostgresStore(PostgresStore):
    """A PostgreSQL store whose engines tick without leases: the version fence alone."""

    ticks_by_lease = False


async def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> list[Store]:
    """Two stores on one database of ``kind``."""
    if kind == "sqlite":
        return [await SQLiteStore.open(tmp_path / "flowmixer.db") for _ in range(2)]
    url = await create_database(request.getfixturevalue("postgres_cluster"))
    return [await UnleasedPostgresStore.open(url) for _ in range(2)]


def _broker(store: Store) -> Broker:
    if isinstance(store, SQLiteStore):
        return SQLiteBroker(store)
    assert isinstance(store, PostgresStore)
    return PostgresBroker(store)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_two_tickers_of_one_trigger_send_its_items_once_and_the_loser_saves_nothing(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    RacingFeed.gate = asyncio.Barrier(2)
    stores = await _open(kind, tmp_path, request)
    brokers = [_broker(store) for store in stores]
    outputs: list[Output] = []
    engines = [
        Engine(store, broker=broker, on_output=outputs.append)
        for store, broker in zip(stores, brokers, strict=True)
    ]
    try:
        with capture_logs() as logs:
            for engine in engines:
                await engine.__aenter__()
            await asyncio.gather(*(engine.start_flow(_plan()) for engine in engines))
            await kit.eventually(
                lambda: all(engine.stats("race")["watch"].ticks >= 1 for engine in engines)
            )
            await kit.eventually(lambda: len(outputs) >= len(ITEMS))
            for engine in engines:
                await engine.wait_idle("race")
    finally:
        for engine in engines:
            await engine.__aexit__(None, None, None)
        for broker in brokers:
            await broker.close()

    assert sorted(o.payload["id"] for o in outputs) == ["0", "1", "2"]
    lost = [e for e in logs if e["event"].startswith("tick lost")]
    assert len(lost) == 1
    saved = await stores[0].get_versioned_state("race", "watch", STATE_KEY)
    for store in stores:
        await store.close()
    assert saved.version == 1  # one save: the winner's


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_unit_whose_lease_passed_to_another_owner_commits_neither_state_nor_messages(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    stores = await _open(kind, tmp_path, request)
    brokers = [_broker(store) for store in stores]
    first, second = stores
    assert isinstance(first, (SQLiteStore, PostgresStore))
    assert isinstance(second, (SQLiteStore, PostgresStore))
    try:
        stale = await first.acquire("tick:race/watch", "a", 0.2)
        assert stale is not None
        async with asyncio.timeout(10):
            while await second.holder("tick:race/watch") is not None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        current = await second.acquire("tick:race/watch", "b", 3600)
        assert current is not None
        channel = brokers[0].channel("race", "sink", maxsize=10)
        envelope = Envelope(
            id="e1", flow_id="race", component_id="sink", port="in", payload=1, correlation_id="e1"
        )
        with pytest.raises(LeaseLostError):
            await brokers[0].commit_unit(
                [("race", "watch", STATE_KEY, "[]", 0)], [(channel, envelope)], lease=stale
            )
        assert channel.depth() == 0
        await brokers[1].commit_unit(
            [("race", "watch", STATE_KEY, "[]", 0)], [(channel, envelope)], lease=current
        )
        assert (await second.get_versioned_state("race", "watch", STATE_KEY)).version == 1
        assert channel.depth() == 1  # the current owner's message alone
    finally:
        for broker in brokers:
            await broker.close()
        for store in stores:
            await store.close()
