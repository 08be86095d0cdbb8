"""App configuration per service, as an administrator sets it up (client id, client secret...).

Values live in the ``app_config`` table of the store; those the service manifest lists in
``secretKeys`` are sealed by a :class:`~runtime.auth.secretbox.SecretBox`. An environment
variable ``FLOWMIXER_<SERVICE>_<KEY>`` overrides the stored value: for ``acme:pinterest``,
``clientSecret`` is ``FLOWMIXER_PINTEREST_CLIENT_SECRET`` (see :func:`env_var`). A ``quota``
value (a service's quota rules overridden, :mod:`runtime.quota_rules`) is checked when it is set.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.auth.secretbox import SecretBox
    from runtime.manifest import ServiceManifest
    from runtime.stores.sqlite import SQLiteStore

MASK: Final = "****"
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Secrets shorter than this are shown as the mask alone: two characters of a short secret
# would give away too much of it.
_MIN_LENGTH_TO_HINT: Final = 12

_Row = tuple[str, str, str, int]  # service, key, stored value, secret


def env_var(service: str, key: str) -> str:
    """The variable that overrides ``key`` of ``service``: ``FLOWMIXER_PINTEREST_CLIENT_ID``."""
    name = service.split(":", 1)[-1]
    words = _WORD_START.sub("_", key)
    return f"FLOWMIXER_{name}_{words}".upper().replace("-", "_")


def _select(conn: sqlite3.Connection, service: str | None) -> list[_Row]:
    query = "SELECT service, key, value, secret FROM app_config"
    params: tuple[str, ...] = ()
    if service is not None:
        query += " WHERE service = ?"
        params = (service,)
    rows = conn.execute(query + " ORDER BY service, key", params).fetchall()
    return [(str(s), str(k), str(v), int(secret)) for s, k, v, secret in rows]


def _upsert(conn: sqlite3.Connection, rows: list[_Row]) -> None:
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT INTO app_config (service, key, value, secret, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (service, key) DO UPDATE SET"
            " value = excluded.value, secret = excluded.secret, updated_at = excluded.updated_at",
            [(*row, now) for row in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _delete(conn: sqlite3.Connection, service: str, keys: Sequence[str]) -> None:
    if not keys:
        conn.execute("DELETE FROM app_config WHERE service = ?", (service,))
        return
    conn.executemany(
        "DELETE FROM app_config WHERE service = ? AND key = ?", [(service, k) for k in keys]
    )


class AppConfigStore:
    """Read and change the app configuration of the services in ``services``."""

    def __init__(
        self,
        store: SQLiteStore,
        box: SecretBox,
        services: Mapping[str, ServiceManifest],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._box = box
        self._services = dict(services)
        self._env = os.environ if environ is None else environ

    def _manifest(self, service: str) -> ServiceManifest:
        manifest = self._services.get(service)
        if manifest is None:
            known = ", ".join(sorted(self._services)) or "none"
            raise ConfigurationError(f"there is no service {service!r}; the services are: {known}")
        return manifest

    def check(self, service: str, keys: Sequence[str]) -> ServiceManifest:
        """The manifest of ``service``; :class:`ConfigurationError` when it or a key is unknown."""
        manifest = self._manifest(service)
        unknown = [key for key in keys if key not in manifest.config_keys]
        if unknown:
            valid = ", ".join(manifest.config_keys) or "none (it takes no configuration)"
            raise ConfigurationError(
                f"{service} has no configuration key {', '.join(map(repr, unknown))};"
                f" its keys are: {valid}"
            )
        return manifest

    async def set(self, service: str, values: Mapping[str, str]) -> None:
        """Store ``values`` (secret keys sealed); an unknown service or key is refused."""
        manifest = self.check(service, list(values))
        empty = [key for key, value in values.items() if not value]
        if empty:
            raise ConfigurationError(
                f"{service} {', '.join(empty)}: the value is empty; to remove a value use"
                f" `flowmixer config unset {service} {' '.join(empty)}`"
            )
        if "quota" in values:  # checked now: a broken override would stop the server later
            from runtime.quota_rules import parse_override  # it imports this module

            resources = [rule.resource for rule in manifest.quota]
            parse_override(values["quota"], service=service, resources=resources)
        rows: list[_Row] = []
        for key, value in values.items():
            secret = key in manifest.secret_keys
            stored = self._box.seal(value.encode()).decode("ascii") if secret else value
            rows.append((service, key, stored, int(secret)))
        await self._store.with_connection(lambda conn: _upsert(conn, rows))

    def _opened(self, rows: list[_Row]) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for service, key, value, secret in rows:
            plain = self._box.open(value.encode("ascii")).decode() if secret else value
            result.setdefault(service, {})[key] = plain
        return result

    def _overrides(self, service: str) -> dict[str, str]:
        manifest = self._services[service]
        found = {key: self._env.get(env_var(service, key), "") for key in manifest.config_keys}
        return {key: value for key, value in found.items() if value}

    async def get(self, service: str) -> dict[str, str]:
        """The configuration of ``service``: stored values, overridden by the environment."""
        self._manifest(service)
        rows = await self._store.with_connection(lambda conn: _select(conn, service))
        return {**self._opened(rows).get(service, {}), **self._overrides(service)}

    def overridden(self, service: str) -> list[str]:
        """The keys of ``service`` whose value comes from the environment now."""
        self._manifest(service)
        return sorted(self._overrides(service))

    async def unset(self, service: str, keys: Sequence[str] = ()) -> None:
        """Remove ``keys`` of ``service`` (all its keys when none are named)."""
        self.check(service, keys)
        await self._store.with_connection(lambda conn: _delete(conn, service, list(keys)))

    async def list(self) -> dict[str, dict[str, str]]:
        """Every configured service (stored or from the environment) with its values; values
        kept for a service no manifest defines any more are left out."""
        rows = await self._store.with_connection(lambda conn: _select(conn, None))
        result = self._opened([row for row in rows if row[0] in self._services])
        for service in self._services:
            overrides = self._overrides(service)
            if overrides:
                result[service] = {**result.get(service, {}), **overrides}
        return dict(sorted(result.items()))

    def masked(self, service: str, values: Mapping[str, str]) -> dict[str, str]:
        """``values`` fit to show: secret keys become ``****`` (plus the last two characters
        of a secret of 12 characters or more)."""
        secret_keys = self._manifest(service).secret_keys
        return {key: _mask(value) if key in secret_keys else value for key, value in values.items()}

    async def require(self, service: str, keys: Sequence[str]) -> dict[str, str]:
        """The configuration of ``service``; :class:`ConfigurationError` naming each key of
        ``keys`` that is missing and how to set it."""
        values = await self.get(service)
        missing = [key for key in keys if not values.get(key)]
        if not missing:
            return values
        names = ", ".join(missing)
        pairs = " ".join(f"{key}=..." for key in missing)
        variables = ", ".join(env_var(service, key) for key in missing)
        them = "it" if len(missing) == 1 else "them"
        raise ConfigurationError(
            f"{service} has no {names}; set {them} with `flowmixer config set {service} {pairs}`"
            f" or {variables}"
        )

    async def reseal(self) -> int:
        """Seal every stored secret again with the box's first key; how many were sealed."""
        return await self._store.with_connection(lambda conn: _reseal(conn, self._box))


def _reseal(conn: sqlite3.Connection, box: SecretBox) -> int:
    # One write transaction, so a value set meanwhile is not overwritten by its old one.
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(
            "SELECT service, key, value FROM app_config WHERE secret = 1"
        ).fetchall()
        conn.executemany(
            "UPDATE app_config SET value = ? WHERE service = ? AND key = ?",
            [(box.reseal(str(v).encode("ascii")).decode("ascii"), s, k) for s, k, v in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(rows)


def _mask(value: str) -> str:
    return MASK + value[-2:] if len(value) >= _MIN_LENGTH_TO_HINT else MASK
