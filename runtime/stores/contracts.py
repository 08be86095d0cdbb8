"""The contracts of the records the auth modules and the server keep: the token vault, app
configuration, OAuth login states, deployed flows and their hook secrets.

Each is a small protocol whose values are the frozen dataclasses below. A store keeps what it is
given as is: sealing and unsealing stay in :mod:`runtime.auth` (``sealed`` values are opaque),
and so does hashing (a hook secret or login state is kept only as the digest the caller gives).
Every write that must not be lost to a concurrent writer is made conditional in the store, in
one statement or transaction, never by a re-read in the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from runtime.stores.base import Store
from runtime.stores.leases import LeaseStore


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account of a service as kept in the vault, without its tokens.

    ``version`` counts the record's writes (1 for a new one): a writer that read an older one
    is refused (see :meth:`VaultStore.save_account`).
    """

    service: str
    name: str
    status: str
    scopes: tuple[str, ...]
    expires_at: float | None
    updated_at: float
    reason: str | None
    version: int


@dataclass(frozen=True, slots=True)
class SealedTokens:
    """An account's sealed token set and the version of the record it was read from."""

    sealed: bytes
    version: int


class RefreshLocks(Protocol):
    """One refresh of an account's tokens at a time among every process sharing the store."""

    def refresh_lock(self, service: str, name: str) -> AbstractAsyncContextManager[bool]:
        """Held while refreshing the tokens of ``(service, name)``: a second holder waits.
        Yields whether it is held: one that cannot be had in time (a crashed holder's is
        always given up) yields ``False`` and the refresh goes on unguarded, kept correct by
        :meth:`VaultStore.save_account`'s ``expected_version``."""
        ...


class VaultStore(RefreshLocks, Protocol):
    """The token vault's records: one sealed token set per ``(service, name)``, and the
    locks of their refreshes."""

    async def sealed_tokens(self, service: str, name: str) -> SealedTokens | None: ...

    async def save_account(
        self,
        row: AccountRow,
        sealed: bytes,
        *,
        expected_version: int | None = None,
        only_new: bool = False,
    ) -> bool:
        """Keep ``sealed`` with ``row``'s status, scopes, expiry and reason (its ``version`` is
        ignored: the store gives the next one); whether it was kept. With ``expected_version``
        only while the record is still that version; with ``only_new`` only when there is none.
        """
        ...

    async def list_accounts(self, service: str | None = None) -> list[AccountRow]:
        """The accounts (of ``service``, or all), by service then name."""
        ...

    async def mark_account(
        self,
        service: str,
        name: str,
        status: str,
        reason: str | None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        """Set the account's status and reason (a new version); whether it was marked: an
        unknown account is not, nor one no longer at ``expected_version`` when given."""
        ...

    async def delete_account(self, service: str, name: str) -> bool: ...

    async def reseal_accounts(self, reseal: Callable[[bytes], bytes]) -> int:
        """Replace every sealed token set by ``reseal(sealed)`` in one transaction (a save made
        meanwhile is not overwritten by its old value); how many."""
        ...


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """One value of a service's app configuration; ``value`` is sealed text when ``secret``."""

    service: str
    key: str
    value: str
    secret: bool


class AppConfigRows(Protocol):
    """The app configuration of every service."""

    async def app_config_rows(self, service: str | None = None) -> list[ConfigRow]:
        """The values (of ``service``, or all), by service then key."""
        ...

    async def put_app_config(self, rows: Sequence[ConfigRow]) -> None:
        """Keep ``rows`` all or none, replacing the values with the same service and key."""
        ...

    async def delete_app_config(self, service: str, keys: Collection[str] = ()) -> None:
        """Remove ``keys`` of ``service`` (every key of it when none are named)."""
        ...

    async def reseal_app_config(self, reseal: Callable[[str], str]) -> int:
        """Replace every secret value by ``reseal(value)`` in one transaction; how many."""
        ...


@dataclass(frozen=True, slots=True)
class LoginStateRow:
    """An OAuth login under way, named by the digest of its ``state``; ``options`` is the
    login's JSON text (scopes and whether it may replace an account)."""

    state_hash: str
    service: str
    account: str | None
    redirect_uri: str
    binding_hash: str
    options: str
    expires_at: float


class LoginStateStore(Protocol):
    """The states of OAuth logins under way: each taken at most once."""

    async def add_login_state(self, row: LoginStateRow, *, now: float) -> None:
        """Keep ``row``, forgetting the states expired by ``now``."""
        ...

    async def take_login_state(self, state_hash: str) -> LoginStateRow | None:
        """Remove and return the state named ``state_hash`` atomically: of two callers taking
        one state, one gets it and the other ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class FlowRow:
    """A deployed flow: its definition as JSON text and whether it should run."""

    id: str
    definition_json: str
    status: str
    updated_at: float


class DeploymentStore(Protocol):
    """The server's deployed flows, each with the hook secrets of its webhook triggers."""

    async def save_flow(
        self, flow_id: str, definition_json: str, hooks: Mapping[str, str], *, status: str
    ) -> set[str]:
        """Keep the flow's definition (a new one gets ``status``; a kept one keeps its own) and,
        in the same transaction, its webhook triggers: ``hooks`` maps each trigger to a secret
        digest, kept only for a trigger that had none; triggers not in ``hooks`` lose theirs.
        Returns the triggers whose digest was kept (the new ones)."""
        ...

    async def get_flow(self, flow_id: str) -> FlowRow | None: ...

    async def list_flows(self) -> list[FlowRow]:
        """Every deployed flow, by id."""
        ...

    async def flow_statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """``(id, status)`` of at most ``limit`` flows in id order, those after ``after``; no
        definition is read, so a page stays cheap however many flows there are."""
        ...

    async def set_flow_status(self, flow_id: str, status: str) -> bool:
        """Whether the flow exists (and now has ``status``)."""
        ...

    async def delete_flow(self, flow_id: str) -> bool:
        """Forget the flow and its hook secrets; whether it existed."""
        ...


class HookSecretStore(Protocol):
    """The digests of the webhook triggers' secrets (kept by
    :meth:`DeploymentStore.save_flow`)."""

    async def hook_secret_hash(self, flow_id: str, component_id: str) -> str | None: ...


class AuthStore(VaultStore, AppConfigRows, LoginStateStore, Protocol):
    """What :mod:`runtime.auth` keeps."""


class ServerStore(DeploymentStore, HookSecretStore, Protocol):
    """What the server keeps besides the engine's records."""


class DataStore(Store, AuthStore, ServerStore, LeaseStore, Protocol):
    """Everything a flowmixer database keeps: what :func:`~runtime.stores.urls.open_store`
    opens, on any backend."""
