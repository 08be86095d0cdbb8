"""The credentials the server's flows use: connected accounts first, then environment tokens.

Each OAuth2 service whose app is configured (client id and secret) gets one client, made when
the server starts: change the app configuration, then restart the server for flows to use it.
Accounts connected while the server runs are used by flows started after (see ``reload``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from runtime.auth.credentials import AuthProvider
from runtime.auth.oauth2 import OAuth2Client, OAuth2Hooks
from runtime.credentials import environment_credentials
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import aiohttp

    from runtime.auth.app_config import AppConfigStore
    from runtime.auth.vault import TokenVault
    from runtime.credentials import Credentials
    from runtime.manifest import ComponentManifest
    from runtime.registry import Registry

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


class ServerCredentials:
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
    ) -> ServerCredentials:
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
