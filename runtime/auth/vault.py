"""The token vault: each account's tokens, sealed at rest, in a :class:`VaultStore`.

A service may have several accounts, each by name (e.g. the Pinterest username). The access
and refresh tokens are kept only inside one sealed blob per account; the status, the scopes
and the expiry are plain fields, so accounts can be listed without opening any secret.

Several processes may share the vault (``serve`` and ``call``). Every write of an account's
record gives it a new version: :meth:`TokenVault.stored` returns the version read, and
:meth:`TokenVault.save` and :meth:`TokenVault.mark_needs_reauthorization` can be made
conditional on it; the store refuses such a write once the record has moved on
(``UPDATE ... WHERE version = ?``), whichever process made the newer one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from runtime.auth.account_names import check_account_name
from runtime.errors import ConfigurationError
from runtime.redaction import redact_text
from runtime.stores.contracts import AccountRow

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from runtime.auth.secretbox import SecretBox
    from runtime.stores.contracts import VaultStore

CONNECTED: Final = "connected"
NEEDS_REAUTHORIZATION: Final = "needs_reauthorization"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint granted; the tokens are left out of ``repr``.

    ``expires_at`` and ``refresh_expires_at`` are Unix times (``None``: not said).
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    refresh_expires_at: float | None
    scopes: tuple[str, ...]
    token_type: str = "bearer"

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("a token set needs an access token")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One account of a service as listed (no secrets): ``status`` is ``"connected"`` or
    ``"needs_reauthorization"`` (then ``reason`` says why)."""

    service: str
    name: str
    status: str
    scopes: tuple[str, ...]
    expires_at: float | None
    updated_at: float
    reason: str | None


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """An account's tokens with the version of the record they were read from."""

    tokens: TokenSet
    version: int


class AccountExistsError(ConfigurationError):
    """A login would replace the tokens of an account already connected under that name."""


def _pack(tokens: TokenSet) -> bytes:
    return json.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
            "scopes": list(tokens.scopes),
            "token_type": tokens.token_type,
        },
        separators=(",", ":"),
    ).encode()


def _unpack(service: str, account: str, data: bytes) -> TokenSet:
    try:
        raw: dict[str, Any] = json.loads(data)
        return TokenSet(
            access_token=str(raw["access_token"]),
            refresh_token=None if raw["refresh_token"] is None else str(raw["refresh_token"]),
            expires_at=None if raw["expires_at"] is None else float(raw["expires_at"]),
            refresh_expires_at=(
                None if raw["refresh_expires_at"] is None else float(raw["refresh_expires_at"])
            ),
            scopes=tuple(str(s) for s in raw["scopes"]),
            token_type=str(raw["token_type"]),
        )
    except (ValueError, KeyError, TypeError):
        # No detail: the exception text could quote the tokens.
        raise ConfigurationError(
            f"the stored tokens of {service} account {account!r} are unreadable;"
            " connect the account again"
        ) from None


def already_connected(service: str, account: str) -> str:
    """Why a login to an existing account name is refused, and how to replace it."""
    short = service.split(":", 1)[-1]
    return (
        f"{service} already has an account {account!r}; a login under that name would replace"
        f" its tokens: pass --replace (`flowmixer auth login {short} --account {account}"
        " --replace`), or replace=true to the server, to do so, or choose another name"
    )


class TokenVault:
    """The accounts of every service and their sealed tokens."""

    def __init__(self, store: VaultStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def save(
        self,
        service: str,
        account: str,
        tokens: TokenSet,
        *,
        expected: int | None = None,
        replace: bool = True,
    ) -> bool:
        """Keep ``tokens`` for ``account``, marked connected; whether they were kept.

        With ``expected`` (a :attr:`StoredTokens.version`), only when the record is still that
        version (another process may have saved newer tokens). With ``replace=False``, only
        when there is no such account yet (:class:`AccountExistsError` otherwise).
        """
        if expected is None:  # a refresh keeps the name it was connected under
            check_account_name(account)
        row = AccountRow(
            service=service,
            name=account,
            status=CONNECTED,
            scopes=tokens.scopes,
            expires_at=tokens.expires_at,
            updated_at=0.0,  # the store's clock
            reason=None,
            version=0,  # the store's count
        )
        sealed = self._box.seal(_pack(tokens))
        saved = await self._store.save_account(
            row, sealed, expected_version=expected, only_new=not replace
        )
        if not replace and not saved:
            raise AccountExistsError(already_connected(service, account))
        return saved

    async def load(self, service: str, account: str) -> TokenSet | None:
        """The tokens of ``account`` (whatever its status), or ``None`` when it is unknown."""
        stored = await self.stored(service, account)
        return None if stored is None else stored.tokens

    async def stored(self, service: str, account: str) -> StoredTokens | None:
        """The tokens of ``account`` and their record's version, or ``None`` when unknown."""
        found = await self._store.sealed_tokens(service, account)
        if found is None:
            return None
        tokens = _unpack(service, account, self._box.open(found.sealed))
        return StoredTokens(tokens, found.version)

    def refresh_lock(self, service: str, account: str) -> AbstractAsyncContextManager[bool]:
        """Held while refreshing ``account``: one refresh at a time among the processes
        sharing the store (see :class:`~runtime.stores.contracts.RefreshLocks`)."""
        return self._store.refresh_lock(service, account)

    async def account(self, service: str, account: str) -> AccountRecord | None:
        """The record of one account, or ``None``."""
        for record in await self.accounts(service):
            if record.name == account:
                return record
        return None

    async def accounts(self, service: str | None = None) -> list[AccountRecord]:
        """The accounts (of ``service``, or all), by service then name."""
        return [_record(row) for row in await self._store.list_accounts(service)]

    async def mark_needs_reauthorization(
        self, service: str, account: str, reason: str, *, version: int | None = None
    ) -> bool:
        """Record that a person must connect ``account`` again, and why (secrets removed
        from ``reason``); whether it was marked. An unknown account is left alone, and so is
        one whose record is no longer ``version`` when that is given."""
        return await self._store.mark_account(
            service, account, NEEDS_REAUTHORIZATION, redact_text(reason), expected_version=version
        )

    async def delete(self, service: str, account: str) -> bool:
        """Forget ``account`` and its tokens; whether it existed."""
        return await self._store.delete_account(service, account)

    async def reseal(self) -> int:
        """Seal every account's tokens again with the box's first key; how many accounts."""
        return await self._store.reseal_accounts(self._box.reseal)


def _record(row: AccountRow) -> AccountRecord:
    return AccountRecord(
        service=row.service,
        name=row.name,
        status=row.status,
        scopes=row.scopes,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        reason=row.reason,
    )
