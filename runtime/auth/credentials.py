"""Refreshing credentials from the token vault, and the provider that hands them to flows.

:class:`VaultCredentials` gives components a valid access token: it refreshes when the token
expires within :data:`REFRESH_MARGIN` seconds, and once when the API rejects it. Refreshes are
single-flight per account (one lock and one cached token set per account, shared by every
credentials object of the provider): fifty calls with an expired token cause one refresh. The
rotated refresh token is saved in the vault before the new access token is handed out.

Other processes may share the vault (``serve`` and ``call``) and rotate the refresh token this
one cached. So a refresh first takes the vault's refresh lock (one refresh at a time across
processes) and reads the vault again: tokens another process refreshed are used as they are
when fresh, else refreshed. A refused refresh is checked against the vault again: when the
vault meanwhile holds another refresh token, that one is used; only the refusal of the newest
marks the account as needing re-authorization (and raises
:class:`~runtime.errors.ReauthorizeError`). Saves and marks are compare-and-set on the vault
record's version, so neither overwrites what another process saved meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import structlog

from runtime.auth.oauth2 import InvalidGrantError, OAuth2Error
from runtime.auth.vault import StoredTokens, TokenSet
from runtime.errors import ConfigurationError, ReauthorizeError
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from runtime.auth.oauth2 import OAuth2Client
    from runtime.auth.vault import AccountRecord, TokenVault
    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.manifest import ComponentManifest
    from runtime.telemetry import Telemetry

REFRESH_MARGIN: Final = 300.0
# Refreshes tried in one renewal when other processes keep changing the vault meanwhile.
_ROUNDS: Final = 3


@dataclass
class _Account:
    """What all credentials of one account share: the lock and the last known tokens."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tokens: TokenSet | None = None
    # The refresh token the service refused: not sent again until a new login replaces it.
    refused: str | None = None


class VaultCredentials:
    """The credentials of one account kept in the vault (implements ``Credentials``)."""

    def __init__(
        self,
        vault: TokenVault,
        client: OAuth2Client,
        account: str,
        *,
        settings: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
        shared: _Account | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._vault = vault
        self._telemetry = telemetry
        self._client = client
        self._account = account
        self._settings = dict(settings or {"apiBase": client.api_base})
        self._clock = clock
        self._margin = margin
        self._shared = shared or _Account()
        self._logger = structlog.get_logger("flowmixer.auth").bind(
            service=client.service, account=account
        )

    @property
    def service(self) -> str:
        return self._client.service

    @property
    def account(self) -> str | None:
        return self._account

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings

    def __repr__(self) -> str:
        return f"VaultCredentials(service={self.service!r}, account={self._account!r})"

    async def access_token(self) -> str:
        tokens = self._shared.tokens
        if tokens is not None and self._fresh(tokens):
            return tokens.access_token
        async with self._shared.lock:
            tokens = self._shared.tokens
            if tokens is not None and self._fresh(tokens):
                return tokens.access_token  # another call refreshed it meanwhile
            return (await self._renew(rejected=None)).access_token

    async def token_rejected(self, token: str) -> None:
        async with self._shared.lock:
            tokens = self._shared.tokens
            if tokens is not None and tokens.access_token != token:
                return  # another call refreshed it meanwhile
            await self._renew(rejected=token)

    def _fresh(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is None or tokens.expires_at - self._margin > self._clock()

    async def _stored(self) -> StoredTokens:
        stored = await self._vault.stored(self.service, self._account)
        if stored is None:
            self._shared.tokens = None
            raise ReauthorizeError(
                f"{self.service} account {self._account!r} is not connected; connect it with"
                f" `flowmixer auth login {self.service.split(':', 1)[-1]}`"
            )
        return stored

    async def _renew(self, rejected: str | None) -> TokenSet:
        # Another process sharing the vault may have refreshed already (and rotated the
        # refresh token this one holds): the vault is read again, under the refresh lock.
        async with self._vault.refresh_lock(self.service, self._account):
            stored = await self._stored()
            for _ in range(_ROUNDS):
                tokens = stored.tokens
                if tokens.access_token != rejected and self._fresh(tokens):
                    self._shared.tokens = tokens
                    return tokens
                newer = await self._refresh(stored)
                if isinstance(newer, TokenSet):
                    return newer
                stored = newer
            raise OAuth2Error(
                f"{self.service} account {self._account!r}: its tokens kept changing while"
                " refreshing them; try again"
            )

    async def _refresh(self, stored: StoredTokens) -> TokenSet | StoredTokens:
        """New tokens, saved; or the vault's newer record when it changed meanwhile."""
        tokens = stored.tokens
        if tokens.refresh_token is None:
            return await self._reauthorize("its token expired and cannot be refreshed", stored)
        if tokens.refresh_token == self._shared.refused:
            return await self._reauthorize("the service refused to refresh its token", stored)
        try:
            new = await self._client.refresh(tokens.refresh_token, previous=tokens)
        except BaseException as exc:
            self._telemetry.token_refresh(self.service, ok=False)
            if not isinstance(exc, InvalidGrantError):
                raise
            latest = await self._stored()
            if latest.tokens.refresh_token != tokens.refresh_token:
                return latest  # refused because another process rotated it: use theirs
            self._shared.refused = tokens.refresh_token
            return await self._reauthorize("the service refused to refresh its token", latest)
        # Saved first: a rotated refresh token lost here would lock the account out.
        if not await self._vault.save(self.service, self._account, new, expected=stored.version):
            return await self._stored()  # a login (or an unguarded process) saved meanwhile
        self._shared.tokens = new
        self._telemetry.token_refresh(self.service, ok=True)
        self._logger.info("auth.token_refreshed", expires_at=new.expires_at)
        return new

    async def _reauthorize(self, reason: str, stored: StoredTokens) -> StoredTokens:
        """Mark the account and raise :class:`ReauthorizeError`; unless its record changed
        since ``stored`` was read (then the newer record, to use instead)."""
        self._shared.tokens = None
        # Only the record holding the refused tokens is marked: newer ones saved meanwhile
        # by another process (or a login) are left connected.
        if not await self._vault.mark_needs_reauthorization(
            self.service, self._account, reason, version=stored.version
        ):
            return await self._stored()
        self._logger.warning("auth.reauthorization_needed", reason=reason)
        raise ReauthorizeError(
            f"{self.service} account {self._account!r} needs to be connected again ({reason});"
            f" run `flowmixer auth login {self.service.split(':', 1)[-1]} --account"
            f" {self._account} --replace`"
        )


class SeveralAccountsError(ConfigurationError):
    """A component calls a service that has several connected accounts, and nothing says which
    to use; ``names`` are the accounts, sorted."""

    def __init__(self, service: str, names: list[str]) -> None:
        self.service = service
        self.names = sorted(names)
        choice = json.dumps({"accounts": {service: self.names[0]}})[1:-1]
        super().__init__(
            f"{service} has several accounts ({', '.join(self.names)}); the flow must name the"
            f" one it uses: add {choice} to the flow file"
        )


class AuthProvider:
    """Credentials for flows from the vault, one OAuth2 client per service.

    Call :meth:`load` (and again after logins change) before :meth:`resolver`: resolvers are
    synchronous and choose among the accounts known at the last load.
    """

    def __init__(
        self,
        vault: TokenVault,
        clients: Mapping[str, OAuth2Client],
        *,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._vault = vault
        self._clients = dict(clients)
        self.telemetry = telemetry
        self._clock = clock
        self._margin = margin
        self._shared: dict[tuple[str, str], _Account] = {}
        self._accounts: list[AccountRecord] | None = None

    async def load(self) -> list[AccountRecord]:
        """Read the vault's accounts (the resolvers choose among them)."""
        self._accounts = await self._vault.accounts()
        return self._accounts

    def credentials(self, service: str, account: str) -> VaultCredentials:
        """The credentials of ``account`` of ``service`` (sharing its lock and tokens)."""
        client = self._clients.get(service)
        if client is None:
            raise ConfigurationError(f"there is no OAuth2 client for {service}")
        shared = self._shared.setdefault((service, account), _Account())
        return VaultCredentials(
            self._vault,
            client,
            account,
            clock=self._clock,
            margin=self._margin,
            shared=shared,
            telemetry=self.telemetry,
        )

    def set_clients(self, clients: Mapping[str, OAuth2Client]) -> None:
        """Use ``clients`` from now on (the app configuration changed)."""
        self._clients = dict(clients)

    def configured(self, service: str) -> bool:
        """Whether ``service``'s app is configured here (it has an OAuth2 client)."""
        return service in self._clients

    def account_names(self, service: str) -> list[str]:
        """The accounts of ``service`` known at the last :meth:`load`."""
        return sorted(a.name for a in self._accounts or () if a.service == service)

    def resolver(self, only_account: str | None = None) -> CredentialsResolver:
        """A resolver choosing the account the flow names, else ``only_account`` when given,
        else the service's only account."""
        if self._accounts is None:
            raise RuntimeError("AuthProvider.load() must be awaited before resolver()")
        accounts = list(self._accounts)

        def resolve(
            manifest: ComponentManifest, account: str | None = None, /
        ) -> Credentials | None:
            if manifest.auth is None or manifest.auth.service not in self._clients:
                return None
            service = manifest.auth.service
            names = [a.name for a in accounts if a.service == service]
            wanted = account or only_account
            if wanted is not None:
                if wanted not in names:
                    return None
                return self.credentials(service, wanted)
            if len(names) != 1:
                if names:
                    raise SeveralAccountsError(service, names)
                return None
            return self.credentials(service, names[0])

        return resolve
