"""The demo's account connection: the real OAuth2 code flow against the emulator.

What a person does with ``flowmixer auth login pinterest``, done by the demo itself: the
authorize URL is opened (here by an HTTP client standing in for the browser; the emulator
approves at once), the emulator redirects to a loopback callback, the code is exchanged and the
tokens are stored encrypted in a vault. The flow then gets refreshing credentials from it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.auth.credentials import AuthProvider
from runtime.auth.loopback import loopback_login
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.secretbox import SecretBox
from runtime.auth.states import LoginStates
from runtime.auth.vault import TokenVault
from runtime.settings import Settings
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import aiohttp

    from components.pinterest.emulator.emulator import Emulator
    from runtime.credentials import CredentialsResolver
    from runtime.manifest import ServiceManifest


@dataclass(frozen=True)
class Connected:
    account: str
    scopes: tuple[str, ...]
    resolver: CredentialsResolver


async def connect(
    emulator: Emulator,
    base: str,
    service: ServiceManifest,
    scopes: Sequence[str],
    *,
    home: Path,
    store: SQLiteStore,
    session: aiohttp.ClientSession,
) -> Connected:
    """Log the emulator's demo user in through OAuth and return the flow's credentials."""
    box = SecretBox.from_settings(Settings(home=home), environ={})
    app = {
        "clientId": emulator.app.client_id,
        "clientSecret": emulator.app.client_secret,
        "apiBase": f"{base}/v5",
        "authorizeUrl": f"{base}/oauth/",
    }
    client = OAuth2Client(service, app, session)  # its manifest says all: no oauth2.hooks
    vault = TokenVault(store, box)
    browsing: set[asyncio.Task[None]] = set()

    async def browser(url: str) -> None:  # follows the redirects, as a browser would
        async with session.get(url, allow_redirects=True) as response:
            await response.read()

    def announce(url: str) -> None:
        task = asyncio.get_running_loop().create_task(browser(url))
        browsing.add(task)
        task.add_done_callback(browsing.discard)

    result = await loopback_login(
        client, LoginStates(store), vault, scopes=scopes, announce=announce, timeout=30
    )
    provider = AuthProvider(vault, {service.service: client})
    await provider.load()
    return Connected(result.account, tuple(result.scopes), provider.resolver())
