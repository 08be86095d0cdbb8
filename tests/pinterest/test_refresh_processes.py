"""Refresh across processes sharing one vault: each process is an ``AuthProvider`` of its own
over the same database file (its own cache and lock), against the emulator, whose refresh
tokens rotate (the one used stops working)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.auth.credentials import REFRESH_MARGIN, AuthProvider
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.vault import CONNECTED, NEEDS_REAUTHORIZATION, TokenSet, TokenVault
from runtime.errors import ReauthorizeError
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore
from tests.pinterest.auth_kit import SERVICE, AuthKit, app_config, auth_kit
from tests.pinterest.emulator_harness import MakeEmulator

HOUR = 3600
ACCOUNT = "flowmixer_demo"


class UnguardedVault(TokenVault):
    """The vault as a process without the refresh lock sees it (the lock cannot be had)."""

    @contextlib.asynccontextmanager
    async def _unguarded(self) -> AsyncIterator[bool]:
        yield False

    def refresh_lock(
        self, service: str, account: str
    ) -> contextlib.AbstractAsyncContextManager[bool]:
        return self._unguarded()


class RacedClient(OAuth2Client):
    """A client whose first refresh request goes out just after another process (``first``)
    refreshed, or, ``alongside``, while the other one is refreshing too (it gets 0.3 s)."""

    def __init__(self, kit: AuthKit, first: AuthProvider, *, alongside: bool = False) -> None:
        super().__init__(
            kit.client.manifest,
            app_config(kit.harness),
            kit.harness.session,
            Registry.load().oauth2_hooks(SERVICE),
            clock=kit.harness.clock,
        )
        self._first: AuthProvider | None = first
        self._alongside = alongside
        self.other: asyncio.Task[str] | None = None

    async def refresh(self, refresh_token: str, *, previous: TokenSet | None = None) -> TokenSet:
        if self._first is not None:
            first, self._first = self._first, None
            other = first.credentials(SERVICE, ACCOUNT).access_token()
            if self._alongside:
                self.other = asyncio.create_task(other)
                await asyncio.sleep(0.3)
            else:
                await other
        return await super().refresh(refresh_token, previous=previous)


@contextlib.asynccontextmanager
async def process(
    kit: AuthKit, tmp_path: Path, *, margin: float = REFRESH_MARGIN
) -> AsyncIterator[AuthProvider]:
    """Another process: its own connection to the database file, cache and locks."""
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        vault = TokenVault(store, kit.box)
        yield AuthProvider(vault, {SERVICE: kit.client}, clock=kit.harness.clock, margin=margin)


async def test_a_fresh_token_another_process_refreshed_is_used_without_refreshing_again(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
        process(kit, tmp_path) as cli,
    ):
        await kit.login()
        server = kit.provider.credentials(SERVICE, ACCOUNT)
        first = await server.access_token()  # cached by the server
        harness.clock.advance(HOUR - 200)  # inside the refresh margin
        refreshed = await cli.credentials(SERVICE, ACCOUNT).access_token()
        assert await server.access_token() == refreshed != first
        assert harness.emu.stats.token_requests["refresh_token"] == 1
        (record,) = await kit.vault.accounts(SERVICE)
        assert record.status == CONNECTED


async def test_a_token_rejected_after_another_process_refreshed_is_replaced_by_the_vaults(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
        process(kit, tmp_path, margin=HOUR + 1) as cli,  # it refreshes at once
    ):
        await kit.login()
        server = kit.provider.credentials(SERVICE, ACCOUNT)
        old = await server.access_token()
        refreshed = await cli.credentials(SERVICE, ACCOUNT).access_token()
        await server.token_rejected(old)  # the server's cached token is still fresh to it
        assert await server.access_token() == refreshed
        assert harness.emu.stats.token_requests["refresh_token"] == 1


async def test_a_refused_refresh_while_the_vault_holds_a_newer_token_uses_that_token(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
        process(kit, tmp_path) as cli,
    ):
        await kit.login()
        harness.clock.advance(HOUR - 200)
        # The server reads the vault, then the CLI refreshes before the server's request
        # arrives: the server's refresh token is refused, the CLI's is in the vault.
        unguarded = UnguardedVault(kit.store, kit.box)
        server = AuthProvider(unguarded, {SERVICE: RacedClient(kit, cli)}, clock=harness.clock)
        token = await server.credentials(SERVICE, ACCOUNT).access_token()
        stored = await kit.vault.load(SERVICE, ACCOUNT)
        assert stored is not None
        assert token == stored.access_token
        assert harness.emu.stats.token_requests["refresh_token"] == 2  # the CLI's, one refused
        (record,) = await kit.vault.accounts(SERVICE)
        assert record.status == CONNECTED


async def test_only_the_refusal_of_the_newest_refresh_token_marks_the_account(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
        process(kit, tmp_path) as cli,
    ):
        await kit.login()
        harness.clock.advance(HOUR - 200)
        await cli.credentials(SERVICE, ACCOUNT).access_token()  # rotates once
        newest = await kit.vault.load(SERVICE, ACCOUNT)
        assert newest is not None
        assert newest.refresh_token is not None
        await kit.client.revoke(newest.refresh_token)
        harness.clock.advance(HOUR)
        with pytest.raises(ReauthorizeError, match="connected again"):
            await kit.provider.credentials(SERVICE, ACCOUNT).access_token()
        (record,) = await kit.vault.accounts(SERVICE)
        assert record.status == NEEDS_REAUTHORIZATION
        assert harness.emu.stats.token_requests["refresh_token"] == 2


async def test_two_processes_with_an_expired_token_refresh_it_once_between_them(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        make_emulator(auto_approve=True, access_token_seconds=HOUR) as harness,
        auth_kit(harness, tmp_path) as kit,
        process(kit, tmp_path) as cli,
    ):
        await kit.login()
        harness.clock.advance(HOUR + 1)
        # The CLI starts its refresh while the server's is under way.
        client = RacedClient(kit, cli, alongside=True)
        server = AuthProvider(kit.vault, {SERVICE: client}, clock=harness.clock)
        token = await server.credentials(SERVICE, ACCOUNT).access_token()
        assert client.other is not None
        assert await client.other == token
        assert harness.emu.stats.token_requests["refresh_token"] == 1
