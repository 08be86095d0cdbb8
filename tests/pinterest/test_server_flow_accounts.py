"""Which connected account a flow of ``flowmixer serve`` uses, and what its calls report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.flow import check_flow
from runtime.registry import Registry
from tests.pinterest.auth_kit import LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.server_kit import ADMIN_TOKEN, Served, serving

BOARD = "600000000000000001"  # "Recipes" in the emulator's seed
LOGIN_AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def board_flow(flow_id: str, accounts: dict[str, str] | None = None) -> dict[str, Any]:
    """A webhook whose events name a board, and a GetBoard that fetches it."""
    flow: dict[str, Any] = {
        "id": flow_id,
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "board": {
                "type": "acme.pinterest.GetBoard",
                "source": {"in": {"hook": ["out"]}},
                "config": {"transform": {"in": {"boardId": "{{{$.hook.out.boardId}}}"}}},
            },
        },
    }
    if accounts is not None:
        flow["accounts"] = accounts
    return flow


async def connect(served: Served, browser: aiohttp.ClientSession, account: str) -> None:
    """Connect ``account`` through the server's browser login (the emulator approves it)."""
    async with browser.get(
        f"{served.url}/auth/pinterest/start?account={account}", headers=LOGIN_AUTH
    ) as response:  # follows the redirects: authorize, then the callback
        assert response.status == 200, await response.text()


async def configure(served: Served, harness: EmulatorHarness) -> None:
    """Set the app configuration through the admin API, as an administrator would."""
    status, body = await served.api("PUT", f"/api/config/{SERVICE}", app_config(harness))
    assert status == 200, body


async def deploy_and_start(served: Served, flow: dict[str, Any]) -> tuple[int, Any]:
    """Deploy ``flow`` and start it: the start's (status, body), with the hook secrets."""
    status, deployed = await served.api("POST", "/api/flows", flow)
    assert status in (200, 201), deployed
    status, body = await served.api("POST", f"/api/flows/{flow['id']}/start")
    return status, {**body, "hooks": deployed["hooks"]}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_flow_uses_the_account_it_names_and_its_calls_and_refreshes_are_counted(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    # Tokens that expire within the refresh margin: every call first refreshes.
    async with make_emulator(auto_approve=True, access_token_seconds=120) as harness:
        app = harness.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        async with (
            serving(tmp_path / "db", registry, public_url="") as served,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
        ):
            await configure(served, harness)  # after the server started: no restart needed
            await connect(served, browser, "shop")
            await connect(served, browser, "studio")
            unnamed = await deploy_and_start(served, board_flow("unnamed"))
            named = await deploy_and_start(
                served, board_flow("named", {"acme:pinterest": "studio"})
            )
            secret = named[1]["hooks"][0]["secret"]
            status, _ = await served.hook(
                "/hooks/named/hook", json.dumps({"boardId": BOARD}), secret
            )
            await served.ctx.engine.wait_idle("named")
            async with served.session.get(served.url + "/metrics") as response:
                found = samples(await response.text())
            refreshes = harness.emu.stats.token_requests["refresh_token"]

    assert unnamed[0] == 409
    assert "several accounts (shop, studio)" in unnamed[1]["error"]
    assert "must name the one it uses" in unnamed[1]["error"]
    assert 'add "accounts": {"acme:pinterest": "shop"} to the flow file' in unnamed[1]["error"]
    assert named[0] == 200, named
    assert status == 202
    assert [o.payload["id"] for o in served.outputs] == [BOARD]
    pinterest = ("service", "acme:pinterest")
    assert found["flowmixer_api_calls_total", (pinterest, ("status", "200"))] == 1
    assert refreshes >= 1
    assert found["flowmixer_token_refreshes_total", (("outcome", "ok"), pinterest)] == refreshes


async def test_a_flow_naming_an_account_that_is_not_connected_does_not_start(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with make_emulator(auto_approve=True) as harness:
        app = harness.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        async with (
            serving(tmp_path / "db", registry, public_url="") as served,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
        ):
            await configure(served, harness)
            await connect(served, browser, "shop")
            status, body = await deploy_and_start(
                served, board_flow("ghostly", {"acme:pinterest": "ghost"})
            )
            running = served.ctx.engine.flows()

    assert status == 409
    error = body["error"]
    assert "acme:pinterest (needed by board)" in error
    assert "'ghost', which is not connected (connected: shop)" in error
    assert "flowmixer auth login pinterest --account ghost" in error
    assert running == []


async def test_a_flow_of_a_service_whose_app_is_not_configured_says_which_keys_to_set(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, body = await deploy_and_start(served, board_flow("unconfigured"))

    assert status == 409
    error = body["error"]
    assert "its app is not configured" in error
    assert "clientId, clientSecret" in error
    assert "flowmixer config set acme:pinterest clientId=... clientSecret=..." in error
    assert "FLOWMIXER_PINTEREST_CLIENT_ID, FLOWMIXER_PINTEREST_CLIENT_SECRET" in error


async def test_an_environment_token_serves_a_flow_that_names_no_account(
    emulator: EmulatorHarness, tmp_path: Path, registry: Registry
) -> None:
    token = emulator.token()
    environ = {"PINTEREST_ACCESS_TOKEN": token, "PINTEREST_API_BASE": emulator.api}
    async with serving(tmp_path / "db", registry, environ=environ) as served:
        plain = await deploy_and_start(served, board_flow("plain"))
        named = await deploy_and_start(served, board_flow("named", {"acme:pinterest": "shop"}))

    assert plain[0] == 200, plain
    assert named[0] == 409
    assert "its app is not configured, so no account can be connected" in named[1]["error"]


def test_a_flow_naming_a_service_none_of_its_components_calls_is_refused(
    registry: Registry,
) -> None:
    problems = check_flow(board_flow("typo", {"acme:pintrest": "shop"}), registry)

    [problem] = problems
    assert problem.path == '$.accounts["acme:pintrest"]'
    assert 'no component of this flow calls the service "acme:pintrest"' in problem.message
    assert '"acme:pinterest"' in problem.message
