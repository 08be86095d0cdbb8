"""Which credentials a flow gets: connected accounts first, then environment tokens.

Used by ``flowmixer serve``, ``run`` and ``call``. Each OAuth2 service whose app is configured
(client id and secret) gets one client. :meth:`AccountCredentials.reload` reads the app
configuration and the accounts again: the server calls it after a login and after the app
configuration changes, so flows started afterwards use them.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aiohttp

from runtime.auth.app_config import AppConfigStore
from runtime.auth.credentials import AuthProvider
from runtime.auth.header_secret import header_secret
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.secretbox import SecretBox
from runtime.auth.vault import TokenVault
from runtime.credentials import environment_credentials, token_variable
from runtime.errors import ConfigurationError
from runtime.quota import Quotas, quota_state
from runtime.quota_rules import configured_rules
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.manifest import ComponentManifest
    from runtime.registry import Registry
    from runtime.settings import Settings
    from runtime.stores.contracts import DataStore
    from runtime.telemetry import Telemetry


class _Apps:
    """Where OAuth2 clients come from: the services' manifests and their app configuration."""

    def __init__(
        self,
        registry: Registry,
        app_config: AppConfigStore,
        session: aiohttp.ClientSession,
    ) -> None:
        self._registry = registry
        self._app_config = app_config
        self._session = session

    async def clients(self) -> tuple[dict[str, OAuth2Client], dict[str, str]]:
        """A client per configured service, and why each other OAuth2 service has none."""
        clients: dict[str, OAuth2Client] = {}
        unconfigured: dict[str, str] = {}
        for service, manifest in self._registry.services().items():
            if manifest.oauth2 is None:
                continue
            try:
                app = await self._app_config.require(service, ["clientId", "clientSecret"])
            except ConfigurationError as exc:
                unconfigured[service] = str(exc)  # its flows may still use environment tokens
                continue
            hooks = self._registry.oauth2_hooks(service)
            clients[service] = OAuth2Client(manifest, app, self._session, hooks)
        return clients, unconfigured

    async def api_bases(self) -> dict[str, str]:
        """The ``apiBase`` each service's app configuration sets (stored or from
        ``FLOWMIXER_<SERVICE>_API_BASE``), for the environment's tokens too."""
        bases: dict[str, str] = {}
        for service, manifest in self._registry.services().items():
            if "apiBase" in manifest.config_keys:
                base = (await self._app_config.get(service)).get("apiBase")
                if base:
                    bases[service] = base
        return bases

    def default_api_bases(self) -> dict[str, str]:
        """Each service's ``apiBase`` as its manifest gives it."""
        return {s: m.api_base for s, m in self._registry.services().items() if m.api_base}

    async def secrets(self) -> dict[str, dict[str, str]]:
        """The values of each service's ``secretKeys`` that are set (for header secrets)."""
        found: dict[str, dict[str, str]] = {}
        for service, manifest in self._registry.services().items():
            if manifest.secret_keys:
                values = await self._app_config.get(service)
                found[service] = {k: values[k] for k in manifest.secret_keys if values.get(k)}
        return found


class AccountCredentials:
    """A credentials resolver over the vault's accounts and ``<SERVICE>_ACCESS_TOKEN``."""

    def __init__(
        self,
        provider: AuthProvider,
        environ: Mapping[str, str] | None = None,
        *,
        unconfigured: Mapping[str, str] | None = None,
        apps: _Apps | None = None,
        api_bases: Mapping[str, str] | None = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.provider = provider
        self._api_bases = dict(api_bases or {})
        # service -> the values of its secret keys
        self._secrets: Mapping[str, Mapping[str, str]] = dict(secrets or {})
        self._environ = environ
        self._environment = environment_credentials(environ, api_bases)
        # service -> why its app is not configured (which keys to set, and where)
        self._unconfigured = dict(unconfigured or {})
        self._apps = apps

    @classmethod
    async def create(
        cls,
        registry: Registry,
        app_config: AppConfigStore,
        vault: TokenVault,
        session: aiohttp.ClientSession,
        environ: Mapping[str, str] | None = None,
        *,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> AccountCredentials:
        """One OAuth2 client per configured service; ``environ`` defaults to ``os.environ``.
        Token refreshes are counted in ``telemetry``."""
        apps = _Apps(registry, app_config, session)
        clients, unconfigured = await apps.clients()
        provider = AuthProvider(vault, clients, telemetry=telemetry)
        await provider.load()
        bases, secrets = await apps.api_bases(), await apps.secrets()
        return cls(
            provider,
            environ,
            unconfigured=unconfigured,
            apps=apps,
            api_bases=bases,
            secrets=secrets,
        )

    async def reload(self) -> None:
        """Read the app configuration and the vault's accounts again (after a login or a
        configuration change); flows started afterwards use them."""
        if self._apps is not None:
            clients, self._unconfigured = await self._apps.clients()
            self.provider.set_clients(clients)
            self._api_bases = bases = await self._apps.api_bases()
            self._environment = environment_credentials(self._environ, bases)
            self._secrets = await self._apps.secrets()
        await self.provider.load()

    def __call__(
        self, manifest: ComponentManifest, account: str | None = None, /
    ) -> Credentials | None:
        """The credentials of ``account`` (or of the only account, or the environment's token);
        :class:`ConfigurationError` saying what to connect or configure when there are none."""
        if manifest.auth is None:
            return None
        if manifest.auth.secret is not None:  # an API key: no account, no token
            defaults = {} if self._apps is None else self._apps.default_api_bases()
            bases = {**defaults, **self._api_bases}
            return header_secret(manifest.auth, self._secrets, bases)
        found = self.provider.resolver()(manifest, account)
        if found is None and account is None:
            found = self._environment(manifest)
        if found is None:
            raise ConfigurationError(self.missing(manifest.auth.service, account))
        return found

    def missing(self, service: str, account: str | None) -> str:
        """Why ``service`` has no credentials here, and what to do about it."""
        short = service.split(":", 1)[-1]
        variable = token_variable(service)
        if service in self._unconfigured and account is None:
            return (
                f"no account is connected and no token is set: set {variable} to an access"
                f" token, or connect an account with `flowmixer auth login {short}` (its app is"
                f" not configured yet: {self._unconfigured[service]})"
            )
        if service in self._unconfigured:
            return (
                f"its app is not configured, so no account can be connected: "
                f"{self._unconfigured[service]}"
            )
        names = self.provider.account_names(service)
        connected = ", ".join(names) or "none"
        if account is not None:
            return (
                f"the flow uses the account {account!r}, which is not connected (connected:"
                f" {connected}); connect it with `flowmixer auth login {short} --account"
                f" {account}` or /auth/{short}/start?account={account} on the server"
            )
        return (
            f"no account is connected and no token is set; connect an account with"
            f" `flowmixer auth login {short}` (or /auth/{short}/start on the server), or set"
            f" {variable} to an access token"
        )

    def for_account(self, account: str) -> CredentialsResolver:
        """A resolver that uses ``account`` (of whichever service a component calls) only."""
        return self.provider.resolver(account)


@asynccontextmanager
async def local_quotas(
    settings: Settings, registry: Registry, store: DataStore
) -> AsyncIterator[Quotas]:
    """The quotas of a command that runs flows in this process (``run``, ``call``): the
    services' rules with the app configuration's ``quota`` overrides, as the server has them,
    shared with every process on the Redis server of ``settings.redis_url`` when one is set."""
    app_config = AppConfigStore(store, SecretBox.from_settings(settings), registry.services())
    rules = await configured_rules(registry.services(), app_config)
    quotas = Quotas(rules, state=quota_state(settings.redis_url))
    try:
        yield quotas
    finally:
        await quotas.aclose()


@asynccontextmanager
async def local_credentials(
    settings: Settings,
    registry: Registry,
    store: DataStore,
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
        )
        if account is None:
            yield credentials
            return
        known = await credentials.provider.load()
        if account not in {record.name for record in known}:
            connected = ", ".join(sorted(r.name for r in known)) or "none"
            logins = " or ".join(
                f"`flowmixer auth login {name.split(':', 1)[-1]} --account {account}`"
                for name, service in sorted(registry.services().items())
                if service.oauth2 is not None
            )
            raise ConfigurationError(
                f"no account {account!r} is connected (connected: {connected})"
                + (f"; connect it with {logins}" if logins else "")
            )
        yield credentials.for_account(account)
