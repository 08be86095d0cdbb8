"""A refresh by ``flowmixer call`` while ``flowmixer serve`` runs on the same database does not
lock the server out: it finds the rotated refresh token in the vault.

The emulator runs in this process with the real clock; the server and the CLI are child
processes. Access tokens live 120 s, inside the five-minute refresh margin, so each use of the
account refreshes: the server's first call, the CLI's call, the server's second call.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.pinterest.auth_kit import LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.serve_process import ADMIN_TOKEN, REPO, Admin, ServeProcess

BOARD = "600000000000000001"
FLOW = {
    "id": "boards",
    "accounts": {SERVICE: "shop"},
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "board": {
            "type": "acme.pinterest.GetBoard",
            "source": {"in": {"hook": ["out"]}},
            "config": {"transform": {"in": {"boardId": "{{{$.hook.out.boardId}}}"}}},
        },
    },
}


async def board_calls(harness: EmulatorHarness, admin: Admin, count: int) -> dict[str, Any]:
    """Wait until the emulator saw ``count`` board look-ups, or the flow stopped running."""
    deadline = time.monotonic() + 60
    while True:
        status, flow = await admin.api("GET", "/api/flows/boards")
        assert status == 200, flow
        done = harness.emu.stats.operations["boards/get"] >= count
        if done or flow["state"] != "running" or time.monotonic() > deadline:
            return dict(flow)
        await asyncio.sleep(0.05)


async def cli_call(home: Path) -> tuple[int, str, str]:
    """``flowmixer call acme.pinterest.GetBoard --account shop`` on the server's home."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime.cli",
        "call",
        "acme.pinterest.GetBoard",
        "--input",
        json.dumps({"boardId": BOARD}),
        "--account",
        "shop",
        env={"PYTHONPATH": str(REPO), "FLOWMIXER_HOME": str(home), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_refresh_by_the_cli_keeps_the_servers_flows_running(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    async with make_emulator(clock=time.time, auto_approve=True, access_token_seconds=120) as h:
        app = h.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        server = ServeProcess(home, {})
        await server.start()
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                admin = Admin(session, server.url)
                status, body = await admin.api("PUT", f"/api/config/{SERVICE}", app_config(h))
                assert status == 200, body
                async with session.get(
                    f"{server.url}/auth/pinterest/start?account=shop",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                ) as response:
                    assert response.status == 200, await response.text()
                secret = await admin.deploy(FLOW)

                assert await admin.push("/hooks/boards/hook", {"boardId": BOARD}, secret) == 202
                first = await board_calls(h, admin, 1)
                code, out, err = await cli_call(home)
                assert h.emu.stats.token_requests["refresh_token"] == 2
                assert await admin.push("/hooks/boards/hook", {"boardId": BOARD}, secret) == 202
                second = await board_calls(h, admin, 3)
                status, accounts = await admin.api("GET", "/api/accounts")
                letters = await admin.dead_letters("boards")
        finally:
            await server.stop()

    assert first["state"] == "running", first
    assert code == 0, err
    assert json.loads(out)["payload"]["id"] == BOARD
    assert second["state"] == "running", second
    assert h.emu.stats.operations["boards/get"] == 3
    assert h.emu.stats.token_requests["refresh_token"] == 3  # none refused, none repeated
    assert [(a["name"], a["status"]) for a in accounts["accounts"]] == [("shop", "connected")]
    assert letters == []
