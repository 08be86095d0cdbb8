"""Refresh against the emulator: before expiry, after a 401, single-flight, rotation, refusal."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from components.pinterest.client import PinterestClient
from runtime.auth.credentials import AuthProvider
from runtime.auth.vault import NEEDS_REAUTHORIZATION, TokenSet, TokenVault
from runtime.engine import Engine, Output
from runtime.errors import ReauthorizeError
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from tests.pinterest.auth_kit import CLIENT_ID, CLIENT_SECRET, SERVICE, auth_kit
from tests.pinterest.emulator_harness import MakeEmulator

HOUR = 3600
ACCOUNT = "flowmixer_demo"


async def test_a_token_about_to_expire_is_refreshed_and_the_rotated_refresh_token_kept(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        before = await kit.vault.load(SERVICE, ACCOUNT)
        assert before is not None
        credentials = kit.provider.credentials(SERVICE, ACCOUNT)
        assert await credentials.access_token() == before.access_token
        harness.clock.advance(HOUR - 200)  # inside the five-minute margin
        token = await credentials.access_token()
        after = await kit.vault.load(SERVICE, ACCOUNT)
        assert after is not None
        assert token == after.access_token != before.access_token
        assert after.refresh_token != before.refresh_token
        assert harness.emu.stats.token_requests["refresh_token"] == 1
        # The old refresh token was rotated away: the stored one is the only one that works.
        with pytest.raises(ReauthorizeError):
            await kit.client.refresh(before.refresh_token or "")


async def test_fifty_calls_with_an_expired_token_cause_exactly_one_refresh(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        harness.clock.advance(HOUR + 1)
        calls = [kit.provider.credentials(SERVICE, ACCOUNT).access_token() for _ in range(50)]
        with capture_logs() as logs:
            tokens = await asyncio.gather(*calls)
        assert [e["event"] for e in logs] == ["auth.token_refreshed"]
        assert tokens[0] not in repr(logs)
        assert len(set(tokens)) == 1
        assert harness.emu.stats.token_requests["refresh_token"] == 1
        stored = await kit.vault.load(SERVICE, ACCOUNT)
        assert stored is not None
        assert stored.access_token == tokens[0]


async def test_a_rejected_token_is_refreshed_once_and_a_component_call_then_succeeds(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        credentials = kit.provider.credentials(SERVICE, ACCOUNT)
        revoked = await credentials.access_token()
        assert await kit.client.revoke(revoked)
        client = PinterestClient.connect(harness.session, credentials, api_base=harness.api)
        account = await client.get_user_account()
        assert account.username == ACCOUNT
        assert harness.emu.stats.token_requests["refresh_token"] == 1
        # A late report of the same old token does not refresh again.
        await credentials.token_rejected(revoked)
        assert harness.emu.stats.token_requests["refresh_token"] == 1


async def test_a_refused_refresh_marks_the_account_and_says_to_connect_it_again(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        tokens = await kit.vault.load(SERVICE, ACCOUNT)
        assert tokens is not None
        assert tokens.refresh_token is not None
        await kit.client.revoke(tokens.refresh_token)
        harness.clock.advance(HOUR + 1)
        credentials = kit.provider.credentials(SERVICE, ACCOUNT)
        with capture_logs() as logs, pytest.raises(ReauthorizeError) as refused:
            await credentials.access_token()
        message = str(refused.value)
        assert "connected again" in message
        assert "flowmixer auth login pinterest" in message
        (record,) = await kit.vault.accounts(SERVICE)
        assert record.status == NEEDS_REAUTHORIZATION
        assert record.reason
        assert "refused" in record.reason
        assert [e["event"] for e in logs] == ["auth.reauthorization_needed"]
        for secret in (tokens.access_token, tokens.refresh_token, CLIENT_SECRET):
            assert secret not in message + repr(logs) + (record.reason or "")
        # The refused refresh token is not sent again.
        with pytest.raises(ReauthorizeError):
            await kit.provider.credentials(SERVICE, ACCOUNT).access_token()
        assert harness.emu.stats.token_requests["refresh_token"] == 1


async def test_an_expired_token_without_a_refresh_token_needs_a_new_login(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        tokens = await kit.vault.load(SERVICE, ACCOUNT)
        assert tokens is not None
        await kit.vault.save(SERVICE, ACCOUNT, dataclasses.replace(tokens, refresh_token=None))
        harness.clock.advance(HOUR)
        with pytest.raises(ReauthorizeError, match="cannot be refreshed"):
            await kit.provider.credentials(SERVICE, ACCOUNT).access_token()
        assert harness.emu.stats.token_requests["refresh_token"] == 0


async def test_an_unknown_account_is_reported_as_not_connected(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with make_emulator() as harness, auth_kit(harness, tmp_path) as kit:
        with pytest.raises(ReauthorizeError, match="not connected"):
            await kit.provider.credentials(SERVICE, "nobody").access_token()
        assert CLIENT_ID in repr(kit.client)
        assert CLIENT_SECRET not in repr(kit.client)


class FailingSaves(TokenVault):
    """A vault whose disk is full: saving fails."""

    async def save(
        self,
        service: str,
        account: str,
        tokens: TokenSet,
        *,
        expected: str | None = None,
        replace: bool = True,
    ) -> bool:
        raise OSError("disk full")


async def test_a_refreshed_token_is_not_handed_out_unless_its_refresh_token_was_saved(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        before = await kit.vault.load(SERVICE, ACCOUNT)
        harness.clock.advance(HOUR + 1)
        failing = FailingSaves(kit.store, kit.box)
        provider = AuthProvider(failing, {SERVICE: kit.client}, clock=harness.clock)
        with pytest.raises(OSError, match="disk full"):
            await provider.credentials(SERVICE, ACCOUNT).access_token()
        assert harness.emu.stats.token_requests["refresh_token"] == 1
        assert await kit.vault.load(SERVICE, ACCOUNT) == before


async def test_a_refused_refresh_pauses_the_flow_until_the_account_is_connected_again(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    flow = {
        "id": "who",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "step": {"type": "acme.pinterest.GetUserAccount", "source": {"in": {"hook": ["out"]}}},
        },
    }
    plan = validate_flow(flow, Registry.load())
    store = MemoryStore()
    outputs: list[Output] = []
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
    ):
        await kit.login()
        tokens = await kit.vault.load(SERVICE, ACCOUNT)
        assert tokens is not None
        assert tokens.refresh_token is not None
        await kit.provider.load()
        async with Engine(
            store, on_output=outputs.append, credentials=kit.provider.resolver()
        ) as engine:
            await engine.start_flow(plan)
            await kit.client.revoke(tokens.refresh_token)
            harness.clock.advance(HOUR + 1)
            with capture_logs() as logs:
                event_id = await engine.push("who", "hook", {})
                await engine.wait_idle("who")

            assert engine.status("who") == "paused"
            reason = engine.pause_reason("who") or ""
            assert f"{SERVICE} account {ACCOUNT!r} needs to be connected again" in reason
            assert [e.correlation_id for e in engine.parked("who")] == [event_id]
            assert await store.list_dead_letters() == []
            assert outputs == []
            for secret in (tokens.access_token, tokens.refresh_token, CLIENT_SECRET):
                assert secret not in reason + repr(logs)

            await kit.login(replace=True)  # a new login saves fresh tokens for the account
            assert await engine.resume_flow("who") == 1
            await engine.wait_idle("who")

            assert engine.status("who") == "running"
            assert [o.correlation_id for o in outputs] == [event_id]
            assert outputs[0].payload["username"] == ACCOUNT
