"""The whole OAuth dance against the emulator over real HTTP, and a component using its token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from structlog.testing import capture_logs

from runtime.auth.loopback import LoginError, loopback_login
from runtime.auth.oauth2 import InvalidGrantError, OAuth2Client, OAuth2Error
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from tests.pinterest.auth_kit import CLIENT_SECRET, SCOPES, SERVICE, AuthKit, auth_kit
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def sealed_rows(kit: AuthKit) -> list[bytes]:
    return await kit.store.with_connection(
        lambda conn: [bytes(r[0]) for r in conn.execute("SELECT sealed_tokens FROM accounts")]
    )


async def run_get_user_account(kit: AuthKit, account: str | None) -> list[Output]:
    flow = {
        "id": "who",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "step": {"type": "acme.pinterest.GetUserAccount", "source": {"in": {"hook": ["out"]}}},
        },
    }
    plan = validate_flow(flow, Registry.load())
    await kit.provider.load()
    outputs: list[Output] = []
    async with Engine(
        MemoryStore(), on_output=outputs.append, credentials=kit.provider.resolver(account)
    ) as engine:
        await engine.start_flow(plan)
        await engine.push("who", "hook", {})
        await engine.wait_idle("who")
    return outputs


async def test_a_login_through_the_authorize_page_stores_a_sealed_token_a_component_then_uses(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator(auto_approve=True) as harness, auth_kit(harness, tmp_path) as kit:
        with capture_logs() as logs:
            result = await kit.login()
            outputs = await run_get_user_account(kit, None)
        assert result.account == "flowmixer_demo"
        assert set(result.scopes) == set(SCOPES)
        asked = query(kit.urls[0])
        assert asked["scope"] == ",".join(SCOPES)
        assert asked["redirect_uri"].startswith("http://127.0.0.1:")
        assert asked["redirect_uri"].endswith("/auth/pinterest/callback")
        assert harness.emu.stats.token_requests["authorization_code"] == 1
        tokens = await kit.vault.load(SERVICE, "flowmixer_demo")
        assert tokens is not None
        assert tokens.refresh_token is not None
        (sealed,) = await sealed_rows(kit)
        assert tokens.access_token.encode() not in sealed
        assert tokens.refresh_token.encode() not in sealed
        assert [o.payload["username"] for o in outputs] == ["flowmixer_demo"]
        secrets = [tokens.access_token, tokens.refresh_token, CLIENT_SECRET, asked["state"]]
        for secret in secrets:
            assert secret not in repr(logs)
            assert secret not in repr(result)


async def test_the_account_may_be_named_instead_of_asking_the_profile(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator(auto_approve=True) as harness, auth_kit(harness, tmp_path) as kit:
        result = await kit.login(account="studio")
        assert result.account == "studio"
        assert [a.name for a in await kit.vault.accounts(SERVICE)] == ["studio"]
        outputs = await run_get_user_account(kit, "studio")
        assert [o.payload["username"] for o in outputs] == ["flowmixer_demo"]


async def test_a_callback_with_a_forged_state_is_refused_and_the_login_goes_on(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator(auto_approve=True) as harness, auth_kit(harness, tmp_path) as kit:
        announced: asyncio.Queue[str] = asyncio.Queue()
        login = asyncio.create_task(
            loopback_login(
                kit.client, kit.states, kit.vault, scopes=SCOPES, announce=announced.put_nowait
            )
        )
        url = await announced.get()
        callback = query(url)["redirect_uri"]
        async with harness.session.get(callback, params={"state": "forged", "code": "x"}) as r:
            assert r.status == 400
            assert "unknown" in await r.text()
        async with harness.session.get(url, allow_redirects=False) as r:
            location = r.headers["Location"]
        async with harness.session.get(location) as r:
            assert r.status == 200
        assert (await login).account == "flowmixer_demo"
        with pytest.raises(aiohttp.ClientConnectionError):  # replayed: the listener is gone
            async with harness.session.get(location):
                pass
        assert harness.emu.stats.token_requests["authorization_code"] == 1


async def test_a_denied_login_ends_with_a_clear_error(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator() as harness, auth_kit(harness, tmp_path) as kit:
        announced: asyncio.Queue[str] = asyncio.Queue()
        login = asyncio.create_task(
            loopback_login(
                kit.client, kit.states, kit.vault, scopes=SCOPES, announce=announced.put_nowait
            )
        )
        form = {**query(await announced.get()), "decision": "deny"}
        async with harness.session.post(harness.base + "/oauth/", data=form) as r:
            assert r.status == 400
        with pytest.raises(LoginError, match="not approved"):
            await login
        assert await kit.vault.accounts() == []


async def test_a_code_exchanged_twice_is_refused_without_quoting_it(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator(auto_approve=True) as harness, auth_kit(harness, tmp_path) as kit:
        redirect = "http://127.0.0.1:5555/callback"
        url = kit.client.authorize_url(state="s", redirect_uri=redirect, scopes=SCOPES)
        async with harness.session.get(url, allow_redirects=False) as r:
            code = query(r.headers["Location"])["code"]
        await kit.client.exchange_code(code, redirect)
        with pytest.raises(InvalidGrantError) as refused:
            await kit.client.exchange_code(code, redirect)
        assert code not in str(refused.value)
        assert CLIENT_SECRET not in str(refused.value)


async def test_a_wrong_client_secret_is_reported_without_the_secret(
    emulator: EmulatorHarness, tmp_path: Path
) -> None:
    async with auth_kit(emulator, tmp_path) as kit:
        app = {"clientId": "emulator-app", "clientSecret": "not-the-secret-1234"}
        client = OAuth2Client(
            kit.client.manifest, {**app, "apiBase": emulator.api}, emulator.session
        )
        with pytest.raises(OAuth2Error, match="HTTP 401") as failed:
            await client.exchange_code("some-code", "http://127.0.0.1:5555/callback")
        assert "not-the-secret-1234" not in str(failed.value) + repr(client)
