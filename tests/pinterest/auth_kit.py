"""The auth provider's parts wired to a running emulator, for the OAuth and refresh tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from runtime.auth import SecretBox, TokenVault, generate_key
from runtime.auth.credentials import AuthProvider
from runtime.auth.loopback import LoginResult, loopback_login
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.states import LoginStates
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore
from tests.pinterest.emulator_harness import EmulatorHarness

CLIENT_ID = "emulator-app"
CLIENT_SECRET = "emulator-app-secret"
SERVICE = "acme:pinterest"
LOOPBACK_REDIRECT = "http://127.0.0.1/auth/pinterest/callback"
SCOPES = ("boards:read", "pins:read", "user_accounts:read")


def app_config(harness: EmulatorHarness) -> dict[str, str]:
    """The app configuration pointing every URL at the emulator."""
    return {
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "apiBase": harness.api,
        "authorizeUrl": harness.base + "/oauth/",
    }


@dataclass
class AuthKit:
    harness: EmulatorHarness
    store: SQLiteStore
    box: SecretBox
    vault: TokenVault
    states: LoginStates
    client: OAuth2Client
    provider: AuthProvider
    urls: list[str] = field(default_factory=list)

    async def browse(self, url: str) -> tuple[int, str]:
        """A browser: follow the authorize URL's redirects to the callback."""
        async with self.harness.session.get(url) as response:
            return response.status, await response.text()

    async def login(self, account: str | None = None, *, replace: bool = False) -> LoginResult:
        """A whole loopback login, approved at once by the emulator."""
        announced: asyncio.Queue[str] = asyncio.Queue()
        task = asyncio.create_task(
            loopback_login(
                self.client,
                self.states,
                self.vault,
                scopes=SCOPES,
                announce=announced.put_nowait,
                account=account,
                replace=replace,
                timeout=10,
            )
        )
        url = await announced.get()
        self.urls.append(url)
        status, body = await self.browse(url)
        assert status == 200, body
        return await task


@contextlib.asynccontextmanager
async def auth_kit(harness: EmulatorHarness, tmp_path: Path) -> AsyncIterator[AuthKit]:
    """Store, vault, states, client and provider over ``harness`` (its clock everywhere).

    The emulator's app gets the loopback redirect URI registered, as an administrator would
    register it with Pinterest (any port matches a loopback URI).
    """
    app = harness.emu.state.apps[CLIENT_ID]
    app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        box = SecretBox([generate_key()])
        vault = TokenVault(store, box)
        registry = Registry.load()
        manifest = registry.service(SERVICE)
        assert manifest is not None
        hooks = registry.oauth2_hooks(SERVICE)
        client = OAuth2Client(
            manifest, app_config(harness), harness.session, hooks, clock=harness.clock
        )
        provider = AuthProvider(vault, {SERVICE: client}, clock=harness.clock)
        yield AuthKit(
            harness, store, box, vault, LoginStates(store, clock=harness.clock), client, provider
        )
