"""Two real processes on one PostgreSQL database refresh one account's expired token: the
advisory refresh lock lets one refresh reach the emulator; the other waits, then reads the
rotated token from the vault instead of refreshing with the dead one.

The emulator runs in this process on the real clock; its refresh tokens rotate (the one used
stops working).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time

from runtime.auth import SecretBox, TokenVault, generate_key
from runtime.auth.loopback import loopback_login
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.states import LoginStates
from runtime.auth.vault import CONNECTED
from runtime.registry import Registry
from runtime.stores.postgres import PostgresStore
from tests.pinterest.auth_kit import CLIENT_ID, LOOPBACK_REDIRECT, SCOPES, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.serve_process import REPO

ACCOUNT = "shop"

CHILD = """
import asyncio, json, sys, time
import aiohttp
from runtime.auth import SecretBox, TokenVault
from runtime.auth.credentials import AuthProvider
from runtime.auth.oauth2 import OAuth2Client
from runtime.registry import Registry
from runtime.stores.postgres import PostgresStore

async def main(url, key, app):
    registry = Registry.load()
    service = "acme:pinterest"
    async with await PostgresStore.open(url) as store, aiohttp.ClientSession() as session:
        client = OAuth2Client(
            registry.service(service), json.loads(app), session, registry.oauth2_hooks(service)
        )
        vault = TokenVault(store, SecretBox([key]))
        # A margin of 10 s: the stored token has expired, a refreshed one (120 s) is fresh.
        provider = AuthProvider(vault, {service: client}, margin=10)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        token = await provider.credentials(service, "shop").access_token()
        print(json.dumps(token), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


async def login(harness: EmulatorHarness, store: PostgresStore, vault: TokenVault) -> None:
    """A loopback login of ``shop``, approved at once by the emulator."""
    registry = Registry.load()
    manifest = registry.service(SERVICE)
    assert manifest is not None
    client = OAuth2Client(
        manifest, app_config(harness), harness.session, registry.oauth2_hooks(SERVICE)
    )
    announced: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        loopback_login(
            client,
            LoginStates(store),
            vault,
            scopes=SCOPES,
            announce=announced.put_nowait,
            account=ACCOUNT,
            timeout=10,
        )
    )
    async with harness.session.get(await announced.get()) as response:
        assert response.status == 200, await response.text()
    await task


async def race(url: str, key: str, app: dict[str, str]) -> list[str]:
    """Two processes asking for the account's token at the same moment; what each got."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            url,
            key,
            json.dumps(app),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    results = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    for child in children:
        assert child.returncode == 0
    # The last line: log lines may come before it.
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in results]


async def test_two_processes_with_an_expired_token_refresh_it_once_and_both_use_the_new_one(
    make_emulator: MakeEmulator, postgres_url: str
) -> None:
    key = generate_key()
    async with (
        make_emulator(clock=time.time, auto_approve=True, access_token_seconds=120) as harness,
        await PostgresStore.open(postgres_url) as store,
    ):
        app = harness.emu.state.apps[CLIENT_ID]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        vault = TokenVault(store, SecretBox([key]))
        await login(harness, store, vault)
        stored = await vault.stored(SERVICE, ACCOUNT)
        assert stored is not None
        expired = dataclasses.replace(stored.tokens, expires_at=time.time() - 60)
        assert await vault.save(SERVICE, ACCOUNT, expired, expected=stored.version)

        first, second = await race(postgres_url, key, app_config(harness))

        rotated = await vault.load(SERVICE, ACCOUNT)
        record = await vault.account(SERVICE, ACCOUNT)
    assert harness.emu.stats.token_requests["refresh_token"] == 1  # one refresh between them
    assert rotated is not None
    assert first == second == rotated.access_token != stored.tokens.access_token
    assert rotated.refresh_token != stored.tokens.refresh_token  # rotated, and kept
    assert record is not None
    assert record.status == CONNECTED
