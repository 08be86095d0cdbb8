"""Connecting a Pinterest account through ``flowmixer serve`` against the emulator."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from structlog.testing import capture_logs

from runtime.registry import Registry
from tests.pinterest.auth_kit import CLIENT_SECRET, LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.server_kit import ADMIN_TOKEN, Served, serving


def basic(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value, as a browser sends it."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SEALED = "SELECT sealed_tokens FROM accounts"
ADMIN = {"Authorization": basic("admin", ADMIN_TOKEN)}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@contextlib.asynccontextmanager
async def connected_server(
    harness: EmulatorHarness, tmp_path: Path, registry: Registry, *, configure: bool = True
) -> AsyncIterator[tuple[Served, aiohttp.ClientSession]]:
    """A server whose app points at the emulator, and a browser (a session keeping cookies)."""
    app = harness.emu.state.apps["emulator-app"]
    app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
    async with serving(tmp_path / "db", registry, public_url="") as served:
        if configure:
            assert served.ctx.app_config is not None
            await served.ctx.app_config.set(SERVICE, app_config(harness))
        # unsafe=True: keep the cookies of an IP-address host (the server is on 127.0.0.1)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            yield served, browser


async def _start(
    served: Served, browser: aiohttp.ClientSession, query: str = "?account=acme_shop"
) -> tuple[int, str]:
    async with browser.get(
        f"{served.url}/auth/pinterest/start{query}", headers=ADMIN, allow_redirects=False
    ) as response:
        return response.status, response.headers.get("Location", "")


async def test_a_browser_login_through_the_server_stores_the_account_without_leaking_secrets(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with (
            make_emulator(auto_approve=True) as harness,
            connected_server(harness, tmp_path, registry) as (served, browser),
        ):
            status, location = await _start(served, browser)
            async with browser.get(location) as response:
                page_status, page = response.status, await response.text()
            assert served.ctx.vault is not None
            tokens = await served.ctx.vault.load(SERVICE, "acme_shop")
            accounts = await served.api("GET", "/api/accounts")
            sealed = await served.ctx.store.with_connection(
                lambda conn: [
                    bytes(r[0]) for r in conn.execute("SELECT sealed_tokens FROM accounts")
                ]
            )

    assert status == 302
    asked = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert asked["redirect_uri"] == f"{served.url}/auth/pinterest/callback"
    assert asked["client_id"] == "emulator-app"
    assert (page_status, "acme_shop is connected" in page) == (200, True)
    assert tokens is not None
    assert [a["name"] for a in accounts[1]["accounts"]] == ["acme_shop"]
    assert tokens.access_token.encode() not in sealed[0]
    text = json.dumps(logs, default=str) + caplog.text + json.dumps(accounts) + page
    for secret in (tokens.access_token, tokens.refresh_token, CLIENT_SECRET, asked["state"]):
        assert secret is not None
        assert secret not in text
    assert ADMIN_TOKEN not in text


async def test_a_callback_from_another_browser_or_with_a_forged_state_is_refused(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, browser),
    ):
        _, location = await _start(served, browser)
        state = parse_qs(urlsplit(location).query)["state"][0]
        callback = f"{served.url}/auth/pinterest/callback"
        async with (
            aiohttp.ClientSession() as stranger,  # no login cookie
            stranger.get(callback, params={"state": state, "code": "x"}) as response,
        ):
            other = response.status, await response.text()
        async with browser.get(callback, params={"state": "forged", "code": "x"}) as response:
            forged = response.status, await response.text()
        assert served.ctx.vault is not None
        accounts = await served.ctx.vault.accounts()

    assert other[0] == 400
    assert "belongs to another login" in other[1]
    assert forged[0] == 400
    assert "unknown or was already used" in forged[1]
    assert accounts == []


@pytest.mark.parametrize(
    "auth",
    [{}, {"Authorization": basic("admin", "wrong")}],
    ids=["no credentials", "wrong password"],
)
async def test_starting_a_login_needs_the_admin_token(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry, auth: dict[str, str]
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, browser),
        browser.get(
            f"{served.url}/auth/pinterest/start", headers=auth, allow_redirects=False
        ) as response,
    ):
        status, challenge = response.status, response.headers.get("WWW-Authenticate", "")

    assert status == 401
    assert challenge.startswith("Basic")


async def test_a_login_without_the_app_configured_says_what_to_set(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry, configure=False) as (served, browser),
    ):
        async with browser.get(
            f"{served.url}/auth/pinterest/start", headers=ADMIN, allow_redirects=False
        ) as response:
            status, body = response.status, await response.json()
        async with browser.get(f"{served.url}/auth/nothing/start", headers=ADMIN) as response:
            unknown = response.status

    assert status == 503
    assert "flowmixer config set acme:pinterest" in body["error"]
    assert unknown == 404


async def test_unknown_scopes_are_refused_naming_them(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, browser),
    ):
        async with browser.get(
            f"{served.url}/auth/pinterest/start?scopes=pins:read,pins:fly", headers=ADMIN
        ) as response:
            status, body = response.status, await response.json()
        status_legacy, location = await _start(served, browser, "?scopes=read_public")

    assert status == 400
    assert "'pins:fly'" in body["error"]
    assert status_legacy == 302
    assert "boards%3Aread" in location or "boards:read" in location


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("?account=../../etc%3Cb%3E", 400, "account: '../../etc<b>' has '/', '<', '>'"),
        ("?account=..", 400, "account: '..' alone is not a name"),
        ("?account=acme_shop&replace=yes", 400, "replace: expected true or false"),
    ],
    ids=["path-and-markup", "dot-dot", "replace-not-boolean"],
)
async def test_a_login_start_with_a_bad_account_name_or_replace_is_refused_naming_it(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    registry: Registry,
    query: str,
    status: int,
    says: str,
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, browser),
    ):
        found, _ = await _start(served, browser, query)
        async with browser.get(
            f"{served.url}/auth/pinterest/start{query}", headers=ADMIN
        ) as response:
            body = await response.json()
    assert found == status
    assert says in body["error"]


async def test_a_browser_login_to_a_connected_name_needs_replace_at_start_and_at_callback(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, browser),
    ):
        assert served.ctx.vault is not None
        _, location = await _start(served, browser)
        async with browser.get(location) as response:
            assert response.status == 200
        first = await served.ctx.vault.load(SERVICE, "acme_shop")

        async with browser.get(
            f"{served.url}/auth/pinterest/start?account=acme_shop", headers=ADMIN
        ) as response:
            refused = response.status, (await response.json())["error"]
        # Named by the profile at the callback: flowmixer_demo, connected first here.
        _, location = await _start(served, browser, "")
        async with browser.get(location) as response:
            assert response.status == 200
        _, location = await _start(served, browser, "")
        async with browser.get(location) as response:
            late = response.status, await response.text()
        unchanged = await served.ctx.vault.load(SERVICE, "acme_shop")

        _, location = await _start(served, browser, "?account=acme_shop&replace=true")
        async with browser.get(location) as response:
            assert response.status == 200
        replaced = await served.ctx.vault.load(SERVICE, "acme_shop")

    assert refused[0] == 409
    assert "already has an account 'acme_shop'" in refused[1]
    assert "replace=true" in refused[1]
    assert late[0] == 409
    assert "already has an account &#x27;flowmixer_demo&#x27;" in late[1]
    assert first is not None
    assert replaced is not None
    assert unchanged == first
    assert replaced.access_token != first.access_token


async def test_deleting_an_account_by_a_name_no_account_can_have_is_refused_naming_it(
    make_emulator: MakeEmulator, tmp_path: Path, registry: Registry
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        connected_server(harness, tmp_path, registry) as (served, _),
    ):
        status, body = await served.api("DELETE", f"/api/accounts/{SERVICE}/a%3Cb%3E")
        missing = await served.api("DELETE", f"/api/accounts/{SERVICE}/nobody")
    assert status == 400
    assert "name: 'a<b>' has '<', '>'" in body["error"]
    assert missing[0] == 404
