"""The polling triggers in a running flow against the emulator: new items once each, in order.

Each flow is ``watch`` (the trigger under test, ticking fast) wired into a ``flowmixer.core.Filter``
(``sink``) that passes every message with an id, so what the trigger sent leaves the flow as
outputs of ``sink``, one event each. The emulator's clock is moved past its seed's Pins first, so
new Pins are newer than the old ones, as they would be on Pinterest (when it is not already).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from components.pinterest.emulator import Exchange, FaultPlan
from components.pinterest.emulator.clock import iso
from components.pinterest.triggers import NewPinOnBoard
from runtime.component import Context, State
from runtime.connector.polling_trigger import STATE_KEY
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.errors import FlowValidationError
from runtime.flow import validate_flow
from runtime.manifest import ComponentManifest
from runtime.stores.base import Store
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from runtime.telemetry import NO_TELEMETRY
from tests.pinterest.component_kit import SERVICE, manifest, registry
from tests.pinterest.emulator_harness import EmulatorHarness, run_emulator
from tests.polling_run import Run

FLOW = "f"
RECIPES = "600000000000000001"  # seed board with two Pins, one of them in section DESSERTS
TRAVEL = "600000000000000002"
ARCHIVE = "600000000000000003"
DESSERTS = "700000000000000001"
SEED_RECIPE_PINS = ["800000000000000001", "800000000000000002"]  # oldest first
NOW = 1_717_200_000.0  # 2024-06-01, months after the seed's newest Pin: the clock's least
INTERVAL = 0.1  # the least the manifests allow


def past_the_seed(emulator: EmulatorHarness) -> EmulatorHarness:
    emulator.clock.advance(max(0.0, NOW - emulator.clock()))
    return emulator


@pytest.fixture
def emu(emulator: EmulatorHarness) -> EmulatorHarness:
    return past_the_seed(emulator)


@contextlib.asynccontextmanager
async def watching(
    emu: EmulatorHarness,
    name: str,
    properties: dict[str, Any] | None = None,
    *,
    store: Store | None = None,
) -> AsyncIterator[Run]:
    """A flow running ``acme.pinterest.<name>`` until its first tick is done; the token has
    exactly the scopes of the trigger's manifest."""
    auth = manifest(name).auth
    assert auth is not None
    credentials = StaticCredentials(SERVICE, emu.token(auth.scopes), settings={"apiBase": emu.api})
    flow = {
        "id": FLOW,
        "components": {
            "watch": {
                "type": f"acme.pinterest.{name}",
                "config": {"properties": {"interval": INTERVAL, **(properties or {})}},
            },
            "sink": {
                "type": "flowmixer.core.Filter",
                "source": {"in": {"watch": ["out"]}},
                "config": {"properties": {"field": "id", "operator": "exists"}},
            },
        },
    }
    plan = validate_flow(flow, registry())
    outputs: list[Output] = []

    def resolve(wanted: ComponentManifest) -> StaticCredentials | None:
        return credentials if wanted.auth is not None else None

    async with Engine(
        store or MemoryStore(), on_output=outputs.append, credentials=resolve
    ) as engine:
        await engine.start_flow(plan)
        run = Run(engine, outputs, flow=FLOW, interval=INTERVAL, timeout=10)
        await run.next_tick(0)
        yield run


def add_pins(emu: EmulatorHarness, board: str, count: int, **kw: Any) -> list[str]:
    """``count`` new Pins on ``board``, a second apart, oldest first."""
    ids = []
    for n in range(count):
        emu.clock.advance(1)
        ids.append(emu.emu.add_pin(board, title=f"pin {n}", **kw).id)
    return ids


# -- NewPinOnBoard --------------------------------------------------------------------------


async def test_the_first_tick_records_what_is_there_and_sends_nothing(emu):
    store = MemoryStore()
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}, store=store) as run:
        await run.next_tick(2)
        assert run.outputs == []
    saved = await store.get_state(FLOW, "watch", STATE_KEY)
    assert saved["baselineDone"] is True
    assert sorted(saved["ids"]) == SEED_RECIPE_PINS


async def test_new_pins_are_sent_once_each_oldest_first_as_separate_events(emu):
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}) as run:
        start = emu.clock()
        first, second = add_pins(emu, RECIPES, 2)
        third = emu.emu.add_pin(RECIPES, title="same second as the second").id
        other_board = add_pins(emu, TRAVEL, 1)
        await run.next_tick(3)

    assert run.ids() == [first, second, third]
    assert other_board[0] not in run.ids()
    assert {(o.component_id, o.port) for o in run.outputs} == {("sink", "out")}
    assert len({o.correlation_id for o in run.outputs}) == 3
    pin = run.outputs[0].payload
    assert pin["title"] == "pin 0"
    assert pin["board_id"] == RECIPES
    assert pin["created_at"] == iso(start + 1)
    assert None not in pin.values()


async def test_with_emit_existing_the_first_tick_sends_the_pins_already_there(emu):
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES, "emitExisting": True}) as run:
        await run.next_tick()
        assert run.ids() == SEED_RECIPE_PINS
        [new] = add_pins(emu, RECIPES, 1)
        await run.next_tick()
    assert run.ids() == [*SEED_RECIPE_PINS, new]


async def test_a_section_trigger_sends_only_the_new_pins_of_that_section(emu):
    properties = {"boardId": RECIPES, "sectionId": DESSERTS, "emitExisting": True}
    async with watching(emu, "NewPinOnBoard", properties) as run:
        add_pins(emu, RECIPES, 1)
        [dessert] = add_pins(emu, RECIPES, 1, section_id=DESSERTS)
        await run.next_tick()
    assert run.ids() == ["800000000000000002", dessert]
    assert {o.payload["board_section_id"] for o in run.outputs} == {DESSERTS}


async def _carousel(emu: EmulatorHarness, board: str, title: str) -> str:
    emu.clock.advance(1)
    urls = ["https://flowmixer.invalid/a.png", "https://flowmixer.invalid/b.png"]
    answer = await emu.call(
        "POST",
        "/pins",
        json={
            "board_id": board,
            "title": title,
            "media_source": {
                "source_type": "multiple_image_urls",
                "items": [{"url": url} for url in urls],
            },
        },
    )
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


@pytest.mark.parametrize(
    "section", [None, DESSERTS], ids=["whole board", "one section (filtered by the client)"]
)
async def test_a_creative_type_filter_sends_only_pins_of_those_types(emu, section):
    properties: dict[str, Any] = {"boardId": RECIPES, "creativeTypes": ["CAROUSEL"]}
    if section is not None:
        properties["sectionId"] = section
    async with watching(emu, "NewPinOnBoard", properties) as run:
        add_pins(emu, RECIPES, 1, section_id=section)
        carousel = await _carousel(emu, RECIPES, "slides")
        if section is not None:
            emu.emu.state.pins[carousel].section_id = section
        await run.next_tick()
    assert run.ids() == [carousel]
    assert run.outputs[0].payload["creative_type"] == "CAROUSEL"


async def test_a_pin_deleted_before_a_tick_saw_it_is_never_sent(emu):
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}) as run:
        doomed, kept = add_pins(emu, RECIPES, 2)
        emu.emu.state.delete_pin(doomed)  # no tick can run in between: no await
        await run.next_tick()
        emu.emu.state.delete_pin(kept)  # after it was sent: nothing more happens
        await run.next_tick(2)
    assert run.ids() == [kept]


async def test_a_pin_that_shows_up_late_within_the_look_back_is_sent_once(emu):
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES, "lookback": 3600}) as run:
        add_pins(emu, RECIPES, 1)
        await run.next_tick()
        now = emu.clock()
        late = emu.emu.add_pin(RECIPES, title="late", created_at=now - 3000).id
        too_late = emu.emu.add_pin(RECIPES, title="too late", created_at=now - 4000).id
        await run.next_tick(2)
    assert run.ids()[1:] == [late]
    assert too_late not in run.ids()


async def test_more_new_pins_than_fit_on_one_page_are_all_sent_once_in_order(emu):
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}) as run:
        added = add_pins(emu, RECIPES, 300)
        await run.next_tick(2)
    assert run.ids() == added


async def test_paging_stops_once_a_whole_page_is_older_than_the_look_back(monkeypatch):
    monkeypatch.setattr(NewPinOnBoard, "full_listing_every", 3)
    pages: list[int] = []  # Pin pages read, by tick: each tick starts without a bookmark

    def count(exchange: Exchange) -> None:
        if exchange.operation_id == "boards/list_pins":
            if "bookmark" not in exchange.query:
                pages.append(0)
            pages[-1] += 1

    # Unchecked against the spec: checking a page of 250 Pins takes half a second, and the
    # other tests check these same requests.
    async with run_emulator(None) as emulator:
        emu = past_the_seed(emulator)
        add_pins(emu, RECIPES, 520)  # with the seed's two: three pages
        stop = emu.emu.observe(count)
        async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES, "lookback": 10}) as run:
            await run.next_tick(5)
        stop()
    # The first tick after a start, and every third, read all three pages; the others stop
    # after the second page, which lies wholly out of reach.
    assert pages[:6] == [3, 2, 2, 3, 2, 2]
    assert run.outputs == []


async def test_a_restart_on_the_same_store_neither_repeats_nor_misses(emu, tmp_path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path) as store:
        async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}, store=store) as run:
            before = add_pins(emu, RECIPES, 2)
            await run.next_tick()
        assert run.ids() == before
    while_stopped = add_pins(emu, RECIPES, 2)
    async with (
        await SQLiteStore.open(path) as store,
        watching(emu, "NewPinOnBoard", {"boardId": RECIPES}, store=store) as run,
    ):
        after = add_pins(emu, RECIPES, 1)
        await run.next_tick()
    assert run.ids() == while_stopped + after


async def test_a_tick_that_fails_changes_nothing_and_the_pins_come_on_a_later_tick(emu):
    store = MemoryStore()
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}, store=store) as run:
        saved = await store.get_state(FLOW, "watch", STATE_KEY)
        emu.emu.faults.set(
            FaultPlan(
                error_rate=1.0, error_statuses=(500,), operations=frozenset({"boards/list_pins"})
            )
        )
        added = add_pins(emu, RECIPES, 3)
        with capture_logs() as logs:
            await run.next_tick(2)
        assert run.outputs == []
        assert await store.get_state(FLOW, "watch", STATE_KEY) == saved
        assert run.engine.stats(FLOW)["watch"].failed >= 2
        failures = [e for e in logs if e["event"].startswith("tick")]
        assert failures
        assert all(e["log_level"] == "warning" for e in failures)
        assert "500" in failures[0]["error"]
        emu.emu.faults.clear()
        await run.next_tick(2)
    assert run.ids() == added


async def test_a_different_board_on_the_same_state_starts_with_a_new_baseline(emu):
    store = MemoryStore()
    async with watching(emu, "NewPinOnBoard", {"boardId": RECIPES}, store=store) as run:
        pass
    async with watching(emu, "NewPinOnBoard", {"boardId": TRAVEL}, store=store) as run:
        [new] = add_pins(emu, TRAVEL, 1)
        await run.next_tick()
    assert run.ids() == [new]  # the Travel board's seed Pin was part of its baseline


class HandNode:
    """The engine's side of a context, enough to call a trigger's ``tick`` by hand."""

    flow_id = FLOW
    component_id = "watch"

    def __init__(self, emu: EmulatorHarness, properties: Mapping[str, Any]) -> None:
        self.properties: Mapping[str, Any] = properties
        self.state = State(MemoryStore(), FLOW, "watch")
        self.auth = StaticCredentials(SERVICE, emu.token(), settings={"apiBase": emu.api})
        self.telemetry = NO_TELEMETRY
        self.quotas = None
        self.circuits = None
        self.logger = structlog.get_logger("test")
        self.sent: list[Any] = []
        self._session = emu.session

    def http(self) -> aiohttp.ClientSession:
        return self._session

    async def emit(self, context: Context, payload: Any, port: str) -> None:
        self.sent.append(payload)


async def test_a_tick_called_while_the_last_one_still_runs_does_nothing(emu):
    node = HandNode(emu, {"boardId": RECIPES, "emitExisting": True})
    trigger = NewPinOnBoard()
    emu.emu.faults.set(FaultPlan(latency_ms=100))
    await asyncio.gather(trigger.tick(Context(node)), trigger.tick(Context(node)))
    assert [pin["id"] for pin in node.sent] == SEED_RECIPE_PINS
    assert emu.emu.stats.operations["boards/list_pins"] == 1
    await trigger.tick(Context(node))
    assert emu.emu.stats.operations["boards/list_pins"] == 2
    assert len(node.sent) == 2


@pytest.mark.parametrize(
    ("properties", "path"),
    [
        ({"boardId": "recipes"}, ".boardId"),
        ({"boardId": RECIPES, "creativeTypes": ["GIF"]}, ".creativeTypes[0]"),
        ({"boardId": RECIPES, "interval": 0}, ".interval"),
        ({}, ""),
    ],
    ids=["board id that is no number", "unknown creative type", "no interval", "no board"],
)
def test_properties_that_cannot_work_are_refused_when_the_flow_is_checked(properties, path):
    flow = {
        "id": FLOW,
        "components": {
            "watch": {"type": "acme.pinterest.NewPinOnBoard", "config": {"properties": properties}}
        },
    }
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(flow, registry())
    assert [p.path for p in caught.value.problems] == [
        f"$.components.watch.config.properties{path}"
    ]


# -- NewPin and NewBoard --------------------------------------------------------------------


async def test_new_pin_sends_the_accounts_new_pins_on_any_board(emu):
    async with watching(emu, "NewPin") as run:
        await run.next_tick()
        assert run.outputs == []
        on_recipes = add_pins(emu, RECIPES, 1)
        on_travel = add_pins(emu, TRAVEL, 1)
        await run.next_tick(2)
    assert run.ids() == on_recipes + on_travel


async def test_new_board_sends_each_new_board_once(emu):
    async with watching(emu, "NewBoard") as run:
        await run.next_tick()
        assert run.outputs == []
        emu.clock.advance(1)
        board = emu.emu.add_board("Garden", description="Plants to try")
        await run.next_tick(2)
    assert run.ids() == [board.id]
    payload = run.outputs[0].payload
    assert payload["name"] == "Garden"
    assert payload["created_at"] == iso(emu.clock())


async def test_new_board_with_emit_existing_sends_the_boards_already_there(emu):
    async with watching(emu, "NewBoard", {"emitExisting": True}) as run:
        await run.next_tick()
    assert run.ids() == [RECIPES, TRAVEL, ARCHIVE]
