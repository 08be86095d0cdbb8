"""Two ``flowmixer serve`` processes on one PostgreSQL database run the same NewPinOnBoard flow
against the emulator: its trigger ticks in one of them at a time (the holder of its lease), so
each new Pin is sent once across both; ``kill -9`` of the holder hands the trigger to the other
within the takeover bound (one interval or 30 s, whichever is longer), and no Pin is missed or
sent twice.

Each server logs what the trigger sends to a file in its own home (``flowmixer.core.Log``), so
the two files together are everything the flow emitted. The flow is deployed through the first
server; the second, started afterwards, starts it from the deployments table."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from runtime.auth import generate_key
from runtime.leases import TAKEOVER_FLOOR, lease_name
from tests.pinterest.auth_kit import LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.serve_process import ADMIN_TOKEN, Admin, ServeProcess

FLOW_ID = "watch-recipes"
ACCOUNT = "shop"
RECIPES = "600000000000000001"  # a seed board
INTERVAL = 1.0  # the bound is then the 30 s floor
LEASE = lease_name(FLOW_ID, "watch")
SLACK = 15.0  # for a loaded machine: the bound is the promise, the slack is for the test

FLOW: dict[str, Any] = {
    "id": FLOW_ID,
    "accounts": {SERVICE: ACCOUNT},
    "components": {
        "watch": {
            "type": "acme.pinterest.NewPinOnBoard",
            "config": {"properties": {"boardId": RECIPES, "interval": INTERVAL}},
        },
        "log": {
            "type": "flowmixer.core.Log",
            "source": {"in": {"watch": ["out"]}},
            "config": {"properties": {"path": "pins.jsonl"}},
        },
    },
}


def emitted(server: ServeProcess) -> list[str]:
    """The ids of the Pins the flow sent in ``server``'s process, in order."""
    path = server.home / "logs" / "pins.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["message"]["id"] for line in lines if line.endswith("}")]


async def holder(url: str) -> str | None:
    """The owner id holding the trigger's lease, unexpired, by the database's clock."""
    conn = await asyncpg.connect(url)
    try:
        owner: str | None = await conn.fetchval(
            "SELECT owner FROM leases WHERE name = $1"
            " AND expires_at > extract(epoch FROM clock_timestamp())",
            LEASE,
        )
    finally:
        await conn.close()
    return owner


async def baseline_taken(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval(
            "SELECT value_json FROM state WHERE flow_id = $1 AND component_id = 'watch'", FLOW_ID
        )
    finally:
        await conn.close()
    return found is not None and json.loads(found).get("baselineDone") is True


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not await _value(condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.1)


def add_pins(harness: EmulatorHarness, first: int, count: int) -> list[str]:
    return [harness.emu.add_pin(RECIPES, title=f"new pin {n}").id for n in range(first, count)]


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_two_servers_send_each_new_pin_once_and_a_killed_owners_trigger_is_taken_over(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str
) -> None:
    env = {"FLOWMIXER_DATABASE_URL": postgres_url, "FLOWMIXER_SECRET_KEY": generate_key()}
    servers = [ServeProcess(tmp_path / name, env) for name in ("first", "second")]
    async with make_emulator(clock=time.time, auto_approve=True) as harness:
        app = harness.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            try:
                admin = Admin(session, await servers[0].start())
                status, body = await admin.api("PUT", f"/api/config/{SERVICE}", app_config(harness))
                assert status == 200, body
                async with session.get(
                    f"{servers[0].url}/auth/pinterest/start?account={ACCOUNT}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                ) as response:
                    assert response.status == 200, await response.text()
                status, body = await admin.api("POST", "/api/flows", FLOW)
                assert status in (200, 201), body
                status, body = await admin.api("POST", f"/api/flows/{FLOW_ID}/start")
                assert status == 200, body
                await servers[1].start()  # starts the deployed flow by itself
                await wait_for(lambda: baseline_taken(postgres_url), 60, "the first tick")

                before = add_pins(harness, 0, 5)
                await wait_for(
                    lambda: sum(len(emitted(s)) for s in servers) >= len(before),
                    60,
                    "the first Pins sent",
                )
                owner = await holder(postgres_url)
                assert owner is not None
                [killed] = [s for s in servers if f":{s.pid}:" in owner]
                [survivor] = [s for s in servers if s is not killed]
                await asyncio.sleep(2 * INTERVAL)  # nothing in flight: the first Pins are logged

                await killed.kill()
                killed_at = time.monotonic()
                after = add_pins(harness, 5, 10)
                await wait_for(
                    lambda: set(after) <= set(emitted(survivor)),
                    TAKEOVER_FLOOR + SLACK + 10,
                    "the Pins added after the kill, sent by the other server",
                )
                took = time.monotonic() - killed_at
                new_owner = await holder(postgres_url)
                await asyncio.sleep(3 * INTERVAL)  # a repeat would show up by now
            finally:
                for server in servers:
                    await server.stop()

    sent = Counter(emitted(servers[0]) + emitted(servers[1]))
    assert set(sent) == set(before) | set(after)  # none missed (and the seed Pins not sent)
    assert [pin for pin, times in sent.items() if times > 1] == []  # none sent twice
    assert set(emitted(killed)) <= set(before)  # nothing after its death
    assert new_owner is not None
    assert f":{survivor.pid}:" in new_owner
    assert took <= max(INTERVAL, TAKEOVER_FLOOR) + SLACK


async def _value(found: bool | Awaitable[bool]) -> bool:
    return await found if inspect.isawaitable(found) else found
