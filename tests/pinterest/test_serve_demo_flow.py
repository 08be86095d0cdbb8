"""The demo's flow (``examples/flows/repin-new-pins.json``: a polling trigger, a Filter and
CreatePin) in ``flowmixer serve`` on SQLite and on PostgreSQL, with the server killed with
SIGKILL while it copies and started again: each new pin with a title is copied exactly once,
one without a title never, and pins that were on the board before the flow started are not
copied at all. The trigger's ledger, the queued messages and the effects all live in the
database."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from runtime.examples import example_path
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.serve_process import Admin, ServeProcess

WATCHED, ARCHIVE = "600000000000000001", "600000000000000003"
FLOW_ID = "repin-new-pins"


def demo_flow() -> dict[str, Any]:
    flow: dict[str, Any] = json.loads(example_path("flows", "repin-new-pins.json").read_text())
    flow["components"]["watch"]["config"]["properties"]["interval"] = 1
    return flow


def copies(harness: EmulatorHarness) -> Counter[str]:
    return Counter(p.title or "" for p in harness.emu.state.pins.values() if p.board_id == ARCHIVE)


async def listed(harness: EmulatorHarness, since: int) -> None:
    """Wait until the trigger has read the watched board after exchange ``since``."""
    for _ in range(300):
        if any(e.operation_id == "boards/list_pins" for e in harness.exchanges[since:]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the trigger never read the board")


async def settled(harness: EmulatorHarness, titles: set[str], timeout: float = 60) -> Counter[str]:
    """The copies once every title in ``titles`` has one and nothing moved for 2.5 s."""
    deadline = time.monotonic() + timeout
    last, since = Counter[str](), time.monotonic()
    while time.monotonic() < deadline:
        now = copies(harness)
        if now != last:
            last, since = now, time.monotonic()
        elif titles <= set(now) and time.monotonic() - since > 2.5:
            return now
        await asyncio.sleep(0.1)
    raise AssertionError(f"copies never settled: missing {sorted(titles - set(last))}")


async def test_the_demo_flow_copies_each_new_pin_once_across_a_kill_9(
    make_emulator: MakeEmulator, tmp_path: Path, database: dict[str, str]
) -> None:
    async with make_emulator(clock=time.time) as harness, aiohttp.ClientSession() as session:
        env = {"PINTEREST_ACCESS_TOKEN": harness.token(), "PINTEREST_API_BASE": harness.api}
        env |= database
        before = set(copies(harness))
        first = ServeProcess(tmp_path / "home", env)
        admin = Admin(session, await first.start())
        try:
            mark = len(harness.exchanges)
            status, body = await admin.api("POST", "/api/flows", demo_flow())
            assert status == 201, body
            status, body = await admin.api("POST", f"/api/flows/{FLOW_ID}/start")
            assert status == 200, body
            await listed(harness, mark)  # the baseline: what was there is not new
            for n in range(20):
                title = f"new-{n:02d}" if n % 5 else ""
                harness.emu.add_pin(WATCHED, title=title, link=f"https://x.example/{n}")
            for _ in range(600):  # until the copying is under way
                if len(copies(harness)) - len(before) >= 4:
                    break
                await asyncio.sleep(0.02)
        finally:
            await first.kill()
        copied_before_restart = len(set(copies(harness)) - before)

        second = ServeProcess(tmp_path / "home", env)
        admin = Admin(session, await second.start())  # the flow starts again by itself
        try:
            for n in range(20, 25):
                harness.emu.add_pin(WATCHED, title=f"new-{n:02d}", link=f"https://x.example/{n}")
            wanted = {f"new-{n:02d}" for n in range(25) if n % 5 or n >= 20}
            made = await settled(harness, wanted)
            letters = await admin.dead_letters(FLOW_ID)
        finally:
            await second.stop()

    assert 0 < copied_before_restart < len(wanted)  # the kill did land mid-way
    new = {title: count for title, count in made.items() if title not in before}
    assert new == dict.fromkeys(wanted, 1)  # each titled new pin once; untitled ones never
    assert letters == []
