"""``flowmixer serve --database postgresql://...`` as a child process against the emulator, on
the durable broker of that database (``--broker sqlite``, the default, queues in PostgreSQL) and
on the memory broker: the repin scenario (app configuration, a browser login, a webhook ->
CreatePin flow), each event pinned once, and the records kept in PostgreSQL, so a server
started afresh (another home) finds the flow, the account and the configuration."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from runtime.auth import generate_key
from tests.pinterest.auth_kit import CLIENT_SECRET, LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import MakeEmulator
from tests.pinterest.test_faults import FLOW, assert_each_once, push_all, settle, title
from tests.serve_process import ADMIN_TOKEN, Admin, ServeProcess

ACCOUNT = "shop"


def account_flow() -> dict[str, Any]:
    flow = copy.deepcopy(FLOW)
    flow["accounts"] = {SERVICE: ACCOUNT}
    return flow


@pytest.mark.parametrize("broker", ["sqlite", "memory"], ids=["durable", "memory"])
async def test_serve_on_postgresql_pins_each_event_once_and_keeps_its_records_there(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, broker: str
) -> None:
    env = {"FLOWMIXER_DATABASE_URL": postgres_url, "FLOWMIXER_SECRET_KEY": generate_key()}
    async with make_emulator(clock=time.time, auto_approve=True) as harness:
        app = harness.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        first = ServeProcess(tmp_path / "first", env, "--broker", broker)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            admin = Admin(session, await first.start())
            try:
                status, body = await admin.api("PUT", f"/api/config/{SERVICE}", app_config(harness))
                assert status == 200, body
                async with session.get(
                    f"{first.url}/auth/pinterest/start?account={ACCOUNT}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                ) as response:
                    assert response.status == 200, await response.text()
                secret = await admin.deploy(account_flow())
                statuses = await push_all(admin, secret, range(20))
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
            finally:
                await first.stop()

            # Another home: only the database (and the key) carry over.
            second = ServeProcess(tmp_path / "second", env, "--broker", broker)
            admin = Admin(session, await second.start())  # the flow starts again by itself
            try:
                _, accounts = await admin.api("GET", "/api/accounts")
                later = await push_all(admin, secret, range(20, 25))
                accepted |= {title(n) for n, s in later.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
            finally:
                await second.stop()

    assert len(accepted) == 25
    assert_each_once(accepted, pins, letters, set())
    assert not letters
    assert [(a["name"], a["status"]) for a in accounts["accounts"]] == [(ACCOUNT, "connected")]
    conn = await asyncpg.connect(postgres_url)
    try:
        config = {r["key"]: r for r in await conn.fetch("SELECT * FROM app_config")}
        sealed = await conn.fetchval("SELECT sealed_tokens FROM accounts WHERE name = $1", ACCOUNT)
        flows = [r["id"] for r in await conn.fetch("SELECT id FROM flows")]
        hooks = await conn.fetchval("SELECT count(*) FROM hooks")
    finally:
        await conn.close()
    assert config["clientSecret"]["secret"]
    assert config["clientSecret"]["value"] != CLIENT_SECRET  # sealed at rest
    assert sealed is not None
    assert flows == ["pins"]
    assert hooks == 1
