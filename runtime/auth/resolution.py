"""Which credentials a flow gets: connected accounts first, then environment tokens.

Used by ``flowmixer serve``, ``run`` and ``call``. Each OAuth2 service whose app is configured
(client id and secret) gets one client when the resolver is made: a server must be restarted
after the app configuration changes. Accounts connected later are used after :meth:`reload`.
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aiohttp

from runtime.auth.app_config import AppConfigStore
from runtime.auth.credentials import AuthProvider
from runtime.auth.oauth2 import OAuth2Client, OAuth2Hooks
from runtime.auth.secretbox import SecretBox
from runtime.auth.vault import TokenVault
from runtime.credentials import environment_credentials
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.manifest import ComponentManifest
    from runtime.registry import Registry
    from runtime.settings import Settings
    from runtime.stores.sqlite import SQLiteStore

# Connectors' OAuth2 particulars, imported by name (the runtime does not depend on them).
HOOKS = {"acme:pinterest": ("components.pinterest.auth_hooks", "PinterestHooks")}


def connector_hooks() -> dict[str, OAuth2Hooks]:
    """The hooks of the connectors that are installed."""
    found: dict[str, OAuth2Hooks] = {}
    for service, (module, name) in HOOKS.items():
        try:
            hooks = getattr(importlib.import_module(module), name)()
        except ImportError:
            continue
        if isinstance(hooks, OAuth2Hooks):
            found[service] = hooks
    return found


class AccountCredentials:
    """A credentials resolver over the vault's accounts and ``<SERVICE>_ACCESS_TOKEN``."""

    def __init__(self, provider: AuthProvider, environ: Mapping[str, str] | None = None) -> None:
        self.provider = provider
        self._environment = environment_credentials(environ)

    @classmethod
    async def create(
        cls,
        registry: Registry,
        app_config: AppConfigStore,
        vault: TokenVault,
        session: aiohttp.ClientSession,
        hooks: Mapping[str, OAuth2Hooks],
        environ: Mapping[str, str] | None = None,
    ) -> AccountCredentials:
        """One OAuth2 client per configured service; ``environ`` defaults to ``os.environ``."""
        clients: dict[str, OAuth2Client] = {}
        for service, manifest in registry.services().items():
            if manifest.oauth2 is None:
                continue
            try:
                app = await app_config.require(service, ["clientId", "clientSecret"])
            except ConfigurationError:
                continue  # no app configured: its flows may still use environment tokens
            clients[service] = OAuth2Client(manifest, app, session, hooks.get(service))
        provider = AuthProvider(vault, clients)
        await provider.load()
        return cls(provider, environ)

    async def reload(self) -> None:
        """Read the vault's accounts again (after a login)."""
        await self.provider.load()

    def __call__(self, manifest: ComponentManifest) -> Credentials | None:
        found = self.provider.resolver()(manifest)
        return found if found is not None else self._environment(manifest)

    def for_account(self, account: str) -> CredentialsResolver:
        """A resolver that uses ``account`` (of whichever service a component calls) only."""
        return self.provider.resolver(account)


@asynccontextmanager
async def local_credentials(
    settings: Settings,
    registry: Registry,
    store: SQLiteStore,
    *,
    account: str | None = None,
) -> AsyncIterator[CredentialsResolver]:
    """Credentials for a command that runs flows in this process (``run``, ``call``).

    With ``account``, only that connected account is used (refused when it is not connected);
    otherwise connected accounts first, then ``<SERVICE>_ACCESS_TOKEN``.
    """
    box = SecretBox.from_settings(settings)
    async with aiohttp.ClientSession() as session:
        credentials = await AccountCredentials.create(
            registry,
            AppConfigStore(store, box, registry.services()),
            TokenVault(store, box),
            session,
            connector_hooks(),
        )
        if account is None:
            yield credentials
            return
        known = await credentials.provider.load()
        if account not in {record.name for record in known}:
            connected = ", ".join(sorted(r.name for r in known)) or "none"
            raise ConfigurationError(
                f"no account {account!r} is connected (connected: {connected});"
                f" connect it with `flowmixer auth login SERVICE --account {account}`"
            )
        yield credentials.for_account(account)
