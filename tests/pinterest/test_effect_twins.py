"""Two deliveries of one message at the same time in one process (a redelivered hop next to
its restored copy, or a dead letter retried while the message is still queued): one Pin."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from components.pinterest.emulator import FaultPlan
from runtime.envelope import Envelope, new_id
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_idempotent_effects import SOUP, one_step, pins_of, running


@pytest.fixture
async def live(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    """The emulator on the real clock, its creates slow enough for a second delivery to
    begin while the first is in flight."""
    async with make_emulator(clock=time.time) as harness:
        harness.emu.faults.set(FaultPlan(latency_ms=300, operations={"pins/create"}))
        yield harness


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@pytest.mark.parametrize("copies", [2, 3])
async def test_copies_of_one_message_delivered_at_once_make_one_pin_and_send_it_each_time(
    live: EmulatorHarness, tmp_path: Path, backend: str, copies: int
) -> None:
    store: Store = (
        MemoryStore() if backend == "memory" else await SQLiteStore.open(tmp_path / "f.db")
    )
    before = pins_of(live)
    flow = one_step("CreatePin")
    flow["step"]["concurrency"] = copies
    envelope = Envelope("t", "step", "in", SOUP, new_id())
    for _ in range(copies):
        retry = DeadLetter(
            new_id(), envelope, "interrupted", "CancelledError", 1, time.time(), True
        )
        await store.add_dead_letter(retry)
    async with running(live, flow, store=store) as run:
        await run.engine.wait_idle("t")
    await store.close()

    made = pins_of(live) - before
    assert len(made) == 1, f"{len(made)} pins made"
    assert [pin["id"] for pin in run.sent()] == [next(iter(made))] * copies
