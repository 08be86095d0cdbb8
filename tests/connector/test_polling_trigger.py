"""PollingTrigger on a listing that is not Pinterest's: ``test.feed.NewEntry`` in a running
flow, watching the loopback feed of :mod:`tests.connector.feed` (pages of five, newest first).

The trigger is the flow's only component, so what it sends leaves the flow as its outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from runtime.component import Context
from runtime.connector.polling_trigger import STATE_KEY
from runtime.engine import Engine, Output
from runtime.errors import ComponentError
from runtime.flow import validate_flow
from runtime.stores.base import Store
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests.connector.feed import Feed, NewEntry, NewTitle, Node, registry
from tests.polling_run import Run

FLOW = "f"
INTERVAL = 0.05


@contextlib.asynccontextmanager
async def watching(
    feed: Feed, properties: dict[str, Any] | None = None, *, store: Store | None = None
) -> AsyncIterator[Run]:
    """A flow running ``test.feed.NewEntry`` on ``feed`` until its first tick is done."""
    watched = {"url": f"{feed.base}/cursor", "interval": INTERVAL, **(properties or {})}
    flow = {
        "id": FLOW,
        "components": {"watch": {"type": "test.feed.NewEntry", "config": {"properties": watched}}},
    }
    outputs: list[Output] = []
    async with Engine(store or MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(validate_flow(flow, registry()))
        run = Run(engine, outputs, flow=FLOW, interval=INTERVAL)
        await run.next_tick(0)
        yield run


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    feed = Feed()
    for n in range(3):
        feed.add(1_000.0 + n, title=f"old {n}")
    async with feed.running():
        yield feed


def add(feed: Feed, count: int) -> list[str]:
    """``count`` new entries, a second apart, oldest first."""
    newest = max((e["created_at"] for e in feed.entries), default=1_000.0)
    return [feed.add(newest + 1 + n, title=f"new {n}")["id"] for n in range(count)]


async def test_the_first_tick_records_what_is_there_and_sends_nothing(feed):
    store = MemoryStore()
    async with watching(feed, store=store) as run:
        await run.next_tick(2)
        assert run.outputs == []
    saved = await store.get_state(FLOW, "watch", STATE_KEY)
    assert saved["baselineDone"] is True
    assert sorted(saved["ids"]) == ["1", "2", "3"]
    assert saved["listing"] == f"{feed.base}/cursor"


async def test_new_entries_are_sent_once_each_oldest_first_as_separate_events(feed):
    async with watching(feed) as run:
        first = add(feed, 2)
        await run.next_tick(2)
        second = add(feed, 7)  # more than one page of five
        await run.next_tick(3)

    assert run.ids() == first + second
    assert len({o.correlation_id for o in run.outputs}) == 9
    assert run.outputs[0].payload == {"id": first[0], "created_at": 1_003.0, "title": "new 0"}


async def test_with_emit_existing_the_first_tick_sends_the_entries_already_there(feed):
    async with watching(feed, {"emitExisting": True}) as run:
        await run.next_tick()
        assert run.ids() == ["1", "2", "3"]
        new = add(feed, 1)
        await run.next_tick()
    assert run.ids() == ["1", "2", "3", *new]


async def test_a_late_entry_within_the_look_back_is_sent_and_one_beyond_it_is_not(feed):
    async with watching(feed, {"lookback": 100}) as run:
        [new] = add(feed, 1)  # created at 1003
        await run.next_tick()
        late = feed.add(950.0, title="late")["id"]
        too_late = feed.add(900.0, title="too late")["id"]
        await run.next_tick(2)
    assert run.ids() == [new, late]
    assert too_late not in run.ids()


async def test_a_restart_on_the_same_store_neither_repeats_nor_misses(feed, tmp_path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path) as store:
        async with watching(feed, store=store) as run:
            before = add(feed, 2)
            await run.next_tick()
        assert run.ids() == before
    while_stopped = add(feed, 2)
    async with await SQLiteStore.open(path) as store, watching(feed, store=store) as run:
        after = add(feed, 1)
        await run.next_tick()
    assert run.ids() == while_stopped + after


async def test_a_failing_listing_changes_nothing_and_the_entries_come_later(feed):
    store = MemoryStore()
    async with watching(feed, store=store) as run:
        saved = await store.get_state(FLOW, "watch", STATE_KEY)
        feed.failing = True
        added = add(feed, 3)
        await run.next_tick(2)
        assert run.outputs == []
        assert await store.get_state(FLOW, "watch", STATE_KEY) == saved
        assert run.engine.stats(FLOW)["watch"].failed >= 2
        feed.failing = False
        await run.next_tick(2)
    assert run.ids() == added


async def test_another_listing_on_the_same_state_starts_with_a_new_baseline(feed):
    store = MemoryStore()
    async with watching(feed, store=store):
        pass
    links = f"{feed.base}/links"
    async with watching(feed, {"url": links}, store=store) as run:
        await run.next_tick()
        assert run.outputs == []  # the three entries were this listing's baseline
        new = add(feed, 1)
        await run.next_tick()
    assert run.ids() == new
    assert (await store.get_state(FLOW, "watch", STATE_KEY))["listing"] == links


async def test_paging_stops_once_a_whole_page_is_out_of_reach_but_not_on_full_listings(
    feed, monkeypatch
):
    monkeypatch.setattr(NewEntry, "full_listing_every", 3)
    for n in range(9):
        feed.add(2_000.0 + n)  # with the three old ones: 12 entries, three pages of five
    async with watching(feed, {"lookback": 3}) as run:
        await run.next_tick(5)
    pages: list[int] = []  # pages read, by tick: each tick starts without a cursor
    for query in feed.asked("cursor"):
        if "after" not in query:
            pages.append(0)
        pages[-1] += 1
    # The first tick and every third read all three pages; the others stop after the second,
    # which lies wholly more than three seconds behind the newest entry.
    assert pages[:6] == [3, 2, 2, 3, 2, 2]
    assert run.outputs == []


# -- by hand: overridden readers, a send that fails ------------------------------------------


async def tick(trigger: NewEntry, node: Node) -> None:
    await trigger.tick(Context(node))


async def test_a_subclass_can_say_how_an_item_is_known_dated_and_sent(feed):
    def at(hour: int) -> str:
        return datetime(2024, 3, 1, hour, tzinfo=UTC).isoformat()

    feed.entries.clear()
    feed.add(0, title="Soup", published=at(9))
    async with aiohttp.ClientSession() as session:
        node = Node({"url": f"{feed.base}/cursor"}, session)
        trigger = NewTitle()
        await tick(trigger, node)
        feed.add(0, title="Bread", published=at(11))
        feed.add(0, title="Cake", published=at(10))
        feed.add(0, title="Soup", published=at(12))  # the same title: known already
        await tick(trigger, node)
    assert node.sent == [("out", {"title": "Cake"}), ("out", {"title": "Bread"})]


async def test_an_item_without_an_id_fails_the_tick_naming_the_field(feed):
    feed.entries.append({"title": "nameless", "created_at": 5.0})
    async with aiohttp.ClientSession() as session:
        node = Node({"url": f"{feed.base}/cursor"}, session)
        with pytest.raises(ComponentError, match="NewEntry: a listed item has no 'id'"):
            await tick(NewEntry(), node)
    assert await node.state.get(STATE_KEY) is None


class BrokenNode(Node):
    """A node whose sends fail after ``good`` of them."""

    def __init__(self, good: int, *args: Any) -> None:
        super().__init__(*args)
        self.good = good

    async def emit(self, context: Context, payload: Any, port: str) -> None:
        if len(self.sent) >= self.good:
            raise ConnectionError("the broker went away")
        await super().emit(context, payload, port)


async def test_what_was_sent_before_a_send_failed_is_recorded_and_the_rest_comes_next_tick(feed):
    async with aiohttp.ClientSession() as session:
        node = BrokenNode(1, {"url": f"{feed.base}/cursor"}, session)
        trigger = NewEntry()
        await tick(trigger, node)  # the baseline
        added = add(feed, 3)
        with pytest.raises(ConnectionError):
            await tick(trigger, node)
        node.good = 10
        await tick(trigger, node)
        await tick(trigger, node)
    assert [payload["id"] for _, payload in node.sent] == added
