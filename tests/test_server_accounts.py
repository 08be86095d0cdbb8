"""The admin API's accounts and app configuration over a real socket."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from runtime.auth.app_config import AppConfigStore
from runtime.auth.resolution import AccountCredentials
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.vault import TokenSet, TokenVault
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore
from tests.server_kit import ADMIN_TOKEN, serving

SERVICE = "acme:pinterest"
CLIENT_SECRET = "client-secret-9f8e7d6c5b4a3210"
ACCESS_TOKEN = "pina_access-token-0123456789abcdef"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


async def test_accounts_are_listed_without_tokens_and_deleted(
    tmp_path: Path, registry: Registry
) -> None:
    tokens = TokenSet(
        access_token=ACCESS_TOKEN,
        refresh_token="pinr_refresh-token-abcdef0123456789",
        expires_at=time.time() + 3600,
        refresh_expires_at=None,
        scopes=("boards:read", "pins:read"),
    )
    async with serving(tmp_path / "db", registry) as served:
        assert served.ctx.vault is not None
        await served.ctx.vault.save(SERVICE, "acme_shop", tokens)
        listed = await served.api("GET", "/api/accounts")
        other = await served.api("GET", "/api/accounts?service=acme:other")
        deleted = await served.api("DELETE", f"/api/accounts/{SERVICE}/acme_shop")
        again = await served.api("DELETE", f"/api/accounts/{SERVICE}/acme_shop")
        after = await served.api("GET", "/api/accounts")

    status, body = listed
    [account] = body["accounts"]
    assert status == 200
    assert (account["service"], account["name"], account["status"]) == (
        SERVICE,
        "acme_shop",
        "connected",
    )
    assert account["scopes"] == ["boards:read", "pins:read"]
    assert ACCESS_TOKEN not in json.dumps(body)
    assert "refresh-token" not in json.dumps(body)
    assert other == (200, {"accounts": []})
    assert deleted == (200, {"deleted": {"service": SERVICE, "name": "acme_shop"}})
    assert again[0] == 404
    assert after == (200, {"accounts": []})


async def test_app_configuration_is_set_shown_masked_and_unset(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with serving(
            tmp_path / "db", registry, environ={"FLOWMIXER_PINTEREST_API_BASE": "http://x"}
        ) as served:
            values = {"clientId": "acme-app", "clientSecret": CLIENT_SECRET}
            put = await served.api("PUT", f"/api/config/{SERVICE}", values)
            got = await served.api("GET", f"/api/config/{SERVICE}")
            everything = await served.api("GET", "/api/config")
            unset = await served.api("DELETE", f"/api/config/{SERVICE}?key=clientSecret")
            assert served.ctx.app_config is not None
            stored = await served.ctx.app_config.get(SERVICE)

    assert put[0] == 200
    assert put == got
    shown = got[1]
    assert shown["values"]["clientId"] == "acme-app"
    assert shown["values"]["clientSecret"].startswith("****")
    assert shown["fromEnvironment"] == ["apiBase"]
    assert everything[1][SERVICE]["clientSecret"] == shown["values"]["clientSecret"]
    assert unset[0] == 200
    assert "clientSecret" not in unset[1]["values"]
    assert stored == {"clientId": "acme-app", "apiBase": "http://x"}
    text = json.dumps([put, got, everything, unset]) + json.dumps(logs, default=str)
    assert CLIENT_SECRET not in text + caplog.text
    assert ADMIN_TOKEN not in text + caplog.text


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (f"/api/config/{SERVICE}", {"colour": "red"}, 400, "no configuration key 'colour'"),
        ("/api/config/acme:nothing", {"clientId": "x"}, 400, "there is no service"),
        (f"/api/config/{SERVICE}", ["clientId"], 400, "JSON object"),
        (f"/api/config/{SERVICE}", {"clientId": 5}, 400, "must be strings"),
    ],
    ids=["unknown key", "unknown service", "not an object", "not a string"],
)
async def test_bad_configuration_is_refused_naming_the_problem(
    tmp_path: Path, registry: Registry, path: str, body: object, status: int, message: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        answer = await served.api("PUT", path, body)

    assert answer[0] == status
    assert message in answer[1]["error"]


async def test_the_configuration_of_an_unknown_service_answers_404(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, body = await served.api("GET", "/api/config/acme:nothing")

    assert status == 404
    assert "there is no service 'acme:nothing'" in body["error"]


async def test_flows_use_a_connected_account_before_an_environment_token(
    tmp_path: Path, registry: Registry
) -> None:
    manifest = next(
        c for c in registry.components() if c.auth is not None and c.auth.service == SERVICE
    )
    environ = {"PINTEREST_ACCESS_TOKEN": ACCESS_TOKEN}
    tokens = TokenSet(
        access_token="pina_from-the-vault-0123456789",
        refresh_token=None,
        expires_at=None,
        refresh_expires_at=None,
        scopes=("pins:read",),
    )
    async with (
        await SQLiteStore.open(tmp_path / "db") as store,
        aiohttp.ClientSession() as session,
    ):
        box = SecretBox([generate_key()])
        vault = TokenVault(store, box)
        config = AppConfigStore(store, box, registry.services(), {})
        await config.set(SERVICE, {"clientId": "acme-app", "clientSecret": CLIENT_SECRET})
        before = await AccountCredentials.create(registry, config, vault, session, environ)
        from_environment = before(manifest)
        await vault.save(SERVICE, "acme_shop", tokens)
        await before.reload()
        from_vault = before(manifest)
        assert from_vault is not None
        vault_token = await from_vault.access_token()

    assert from_environment is not None
    assert await from_environment.access_token() == ACCESS_TOKEN
    assert from_vault.account == "acme_shop"
    assert vault_token == tokens.access_token
