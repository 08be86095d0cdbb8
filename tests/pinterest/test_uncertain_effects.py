"""An uncertain create is resolved at once, over everything made since its first attempt.

The flows run against the emulator on the real clock. An attempt whose answer was lost is
looked up in the same delivery, however many Pins were made after it and in whatever order the
board lists them; where Pinterest cannot tell, the message is parked in the dead letters as
uncertain, and a retry of it looks again before creating.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from components.pinterest.emulator import FaultPlan
from components.pinterest.emulator.observe import Exchange
from runtime.circuit import Circuits
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_idempotent_effects import IMAGE, REUSED, one_step, operations, running

CROWD = 300
"""Pins made by others between a lost answer and its lookup: more than the old window of 100
and than a page of 250."""


@pytest.fixture
async def live(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    async with make_emulator(clock=time.time) as harness:
        yield harness


def busy_board(harness: EmulatorHarness, *, old: int, oldest_first: bool) -> str:
    """A board with ``old`` Pins made a day ago; CROWD more are made right after the first
    create whose answer is lost."""
    board = harness.emu.add_board("Busy")
    board.pins_oldest_first = oldest_first
    day_ago = time.time() - 86_400
    for n in range(old):
        harness.emu.add_pin(board.id, title=f"old {n}", image_url=IMAGE, created_at=day_ago + n)

    def crowd(exchange: Exchange) -> None:
        if exchange.operation_id == "pins/create" and exchange.dropped == "after":
            for n in range(CROWD):
                harness.emu.add_pin(board.id, title=f"new {n}", image_url=IMAGE)

    harness.emu.observe(crowd)
    return board.id


def pins_titled(harness: EmulatorHarness, title: str) -> list[str]:
    return [p.id for p in harness.emu.state.pins.values() if p.title == title]


@pytest.mark.parametrize(
    "oldest_first", [False, True], ids=["listed newest first", "listed oldest first"]
)
async def test_a_lost_answer_is_found_among_hundreds_of_pins_made_after_it(live, oldest_first):
    board = busy_board(live, old=600, oldest_first=oldest_first)
    live.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={"pins/create"}, max_faults=1))
    event = {"boardId": board, "imageUrl": IMAGE, "title": "Soup"}
    with capture_logs() as logs:
        async with running(live, one_step("CreatePin")) as run:
            await run.push_all(event)

    [made] = pins_titled(live, "Soup")
    assert [sent["id"] for sent in run.sent()] == [made]
    assert [e.get("object_id") for e in logs if e["event"] == REUSED] == [made]
    assert await run.store.list_dead_letters() == []
    lookups = operations(live).count("boards/list_pins")
    # 901 Pins: newest first, the reading stops after the first whole page made a day ago (the
    # third); oldest first proves no order, so the listing is read to its end (four pages).
    assert operations(live) == ["pins/create"] + ["boards/list_pins"] * lookups
    assert lookups == (4 if oldest_first else 3)
    pages = [
        e.query.get("page_size") for e in live.exchanges if e.operation_id == "boards/list_pins"
    ]
    assert set(pages) == {"250"}


async def test_a_failure_that_made_nothing_is_proved_by_a_complete_lookup_and_created_once(live):
    board = busy_board(live, old=300, oldest_first=True)
    live.emu.faults.set(FaultPlan(drop_before_rate=1.0, operations={"pins/create"}, max_faults=1))
    async with running(live, one_step("CreatePin")) as run:
        await run.push_all({"boardId": board, "imageUrl": IMAGE, "title": "Soup"})

    [made] = pins_titled(live, "Soup")
    assert [sent["id"] for sent in run.sent()] == [made]
    # Read to the end (two pages: no order proved), found nothing, created again.
    lookup = ["boards/list_pins", "boards/list_pins"]
    assert operations(live) == ["pins/create", *lookup, "pins/create"]


def uncertain_step(wait: float) -> dict[str, Any]:
    components = one_step("CreatePin")
    components["step"]["config"] = {"properties": {"uncertainWait": wait}}
    return components


async def test_an_effect_pinterest_cannot_tell_is_parked_as_uncertain_and_never_made_again(live):
    board = live.emu.add_board("Menu")
    event = {"boardId": board.id, "imageUrl": IMAGE, "title": "Soup"}
    # The create is made and its answer lost; every lookup fails the same way. The service is
    # not down (other calls of the account would keep its circuit closed), so this is not an
    # outage to wait for: Pinterest cannot tell.
    live.emu.faults.set(
        FaultPlan(drop_after_rate=1.0, operations={"pins/create", "boards/list_pins"})
    )
    closed = Circuits(threshold=1_000_000)
    async with running(live, uncertain_step(1), max_attempts=3, circuits=closed) as run:
        await run.push_all(event)
        [letter] = await run.store.list_dead_letters()
        creates = operations(live).count("pins/create")

        live.emu.faults.clear()
        await run.engine.retry_dead_letter(letter.id)
        await run.engine.wait_idle("t")

    [made] = pins_titled(live, "Soup")
    assert creates == 1
    assert letter.error_type == "UncertainEffectError"
    assert letter.attempts == 1
    assert "may have made this object and Pinterest cannot tell" in letter.error
    assert "the lookup kept failing (TransportError" in letter.error
    assert f"Look for it on board {board.id}" in letter.error
    # The retry looked first, found the Pin and made none.
    assert operations(live).count("pins/create") == 1
    assert [sent["id"] for sent in run.sent()] == [made]
    assert await run.store.list_dead_letters() == []


async def test_a_lookup_refused_by_pinterest_parks_the_effect_at_once(live):
    board = live.emu.add_board("Menu")
    event = {"boardId": board.id, "imageUrl": IMAGE, "title": "Soup"}
    live.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={"pins/create"}))

    def delete_the_board(exchange: Exchange) -> None:
        if exchange.operation_id == "pins/create":
            live.emu.state.delete_board(board.id)

    live.emu.observe(delete_the_board)
    async with running(live, uncertain_step(60)) as run:
        await run.push_all(event)
        [letter] = await run.store.list_dead_letters()

    assert letter.error_type == "UncertainEffectError"
    assert "the lookup was refused" in letter.error
    assert operations(live) == ["pins/create", "boards/list_pins"]  # looked once, not for 60 s


async def test_a_lookup_held_by_a_rate_limit_waits_without_parking_or_creating_again(live):
    board = live.emu.add_board("Menu")
    event = {"boardId": board.id, "imageUrl": IMAGE, "title": "Soup"}
    live.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={"pins/create"}, max_faults=1))
    limited = {"left": 1}

    def rate_limit_the_first_lookup(exchange: Exchange) -> None:
        if exchange.operation_id == "pins/create" and limited["left"]:
            limited["left"] = 0
            live.emu.faults.set(
                FaultPlan(
                    error_rate=1.0,
                    error_statuses=(429,),
                    retry_after=0,
                    operations={"boards/list_pins"},
                    max_faults=4,
                )
            )

    live.emu.observe(rate_limit_the_first_lookup)
    async with running(live, uncertain_step(0), max_attempts=2) as run:
        await run.push_all(event)

    [made] = pins_titled(live, "Soup")
    assert [sent["id"] for sent in run.sent()] == [made]
    # Three 429s end the client's tries (a DeferError); the message waited and, delivered again,
    # looked first: the fourth 429, then the Pin. With uncertainWait 0, any other failure of
    # the lookup would have parked it.
    assert operations(live) == ["pins/create"] + ["boards/list_pins"] * 5
    assert await run.store.list_dead_letters() == []
