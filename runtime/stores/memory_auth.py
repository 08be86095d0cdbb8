"""The in-memory store's auth records (see :mod:`runtime.stores.contracts`).

A mixin of :class:`~runtime.stores.memory.MemoryStore`. Every method does its read and its
write without awaiting in between, so on one event loop each is atomic, as the SQLite store's
transactions are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from runtime.stores.contracts import AccountRow, ConfigRow, LoginStateRow, SealedTokens
from runtime.stores.refresh_locks import LocalLocks


class MemoryAuthRows:
    """The :class:`~runtime.stores.contracts.AuthStore` part of the in-memory store."""

    _check_open: Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self._accounts: dict[tuple[str, str], tuple[AccountRow, bytes]] = {}
        self._config: dict[tuple[str, str], tuple[ConfigRow, float]] = {}  # -> (row, when)
        self._login_states: dict[str, LoginStateRow] = {}
        self._refresh_locks = LocalLocks()

    # -- the vault ----------------------------------------------------------------------------

    async def sealed_tokens(self, service: str, name: str) -> SealedTokens | None:
        self._check_open()
        found = self._accounts.get((service, name))
        return None if found is None else SealedTokens(found[1], found[0].version)

    async def save_account(
        self,
        row: AccountRow,
        sealed: bytes,
        *,
        expected_version: int | None = None,
        only_new: bool = False,
    ) -> bool:
        self._check_open()
        name = (row.service, row.name)
        found = self._accounts.get(name)
        if only_new and found is not None:
            return False
        if expected_version is not None and (found is None or found[0].version != expected_version):
            return False
        version = 1 if found is None else found[0].version + 1
        kept = replace(row, updated_at=time.time(), version=version)
        self._accounts[name] = (kept, bytes(sealed))
        return True

    def refresh_lock(self, service: str, name: str) -> AbstractAsyncContextManager[bool]:
        return self._refresh_locks.hold(service, name)

    async def list_accounts(self, service: str | None = None) -> list[AccountRow]:
        self._check_open()
        rows = [row for row, _ in self._accounts.values() if service in (None, row.service)]
        return sorted(rows, key=lambda row: (row.service, row.name))

    async def mark_account(
        self,
        service: str,
        name: str,
        status: str,
        reason: str | None,
        *,
        expected_version: int | None = None,
    ) -> bool:
        self._check_open()
        found = self._accounts.get((service, name))
        if found is None or expected_version not in (None, found[0].version):
            return False
        row, sealed = found
        marked = replace(
            row, status=status, reason=reason, updated_at=time.time(), version=row.version + 1
        )
        self._accounts[(service, name)] = (marked, sealed)
        return True

    async def delete_account(self, service: str, name: str) -> bool:
        self._check_open()
        return self._accounts.pop((service, name), None) is not None

    async def reseal_accounts(self, reseal: Callable[[bytes], bytes]) -> int:
        self._check_open()
        # Every value first, then every write: a failing reseal changes nothing.
        resealed = {name: reseal(sealed) for name, (_, sealed) in self._accounts.items()}
        for name, sealed in resealed.items():
            row = self._accounts[name][0]
            self._accounts[name] = (replace(row, version=row.version + 1), sealed)
        return len(resealed)

    # -- app configuration --------------------------------------------------------------------

    async def app_config_rows(self, service: str | None = None) -> list[ConfigRow]:
        self._check_open()
        return [
            row for name, (row, _) in sorted(self._config.items()) if service in (None, name[0])
        ]

    async def put_app_config(self, rows: Sequence[ConfigRow]) -> None:
        self._check_open()
        now = time.time()
        for row in rows:
            self._config[(row.service, row.key)] = (row, now)

    async def delete_app_config(self, service: str, keys: Collection[str] = ()) -> None:
        self._check_open()
        doomed = [
            name for name in self._config if name[0] == service and (not keys or name[1] in keys)
        ]
        for name in doomed:
            del self._config[name]

    async def reseal_app_config(self, reseal: Callable[[str], str]) -> int:
        self._check_open()
        resealed = {
            name: (replace(row, value=reseal(row.value)), at)
            for name, (row, at) in self._config.items()
            if row.secret
        }
        self._config.update(resealed)
        return len(resealed)

    # -- OAuth login states -------------------------------------------------------------------

    async def add_login_state(self, row: LoginStateRow, *, now: float) -> None:
        self._check_open()
        expired = [key for key, kept in self._login_states.items() if kept.expires_at <= now]
        for key in expired:
            del self._login_states[key]
        self._login_states[row.state_hash] = row

    async def take_login_state(self, state_hash: str) -> LoginStateRow | None:
        self._check_open()
        return self._login_states.pop(state_hash, None)
