"""App configuration per service, as an administrator sets it up (client id, client secret...).

Values live in an :class:`~runtime.stores.contracts.AppConfigRows` store; those the service
manifest lists in ``secretKeys`` are sealed by a :class:`~runtime.auth.secretbox.SecretBox`.
An environment variable ``FLOWMIXER_<SERVICE>_<KEY>`` overrides the stored value: for
``acme:pinterest``, ``clientSecret`` is ``FLOWMIXER_PINTEREST_CLIENT_SECRET`` (see
:func:`env_var`). A ``quota`` value (a service's quota rules overridden,
:mod:`runtime.quota_rules`) is checked when it is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from runtime.errors import ConfigurationError
from runtime.stores.contracts import ConfigRow

if TYPE_CHECKING:
    from runtime.auth.secretbox import SecretBox
    from runtime.manifest import ServiceManifest
    from runtime.stores.contracts import AppConfigRows

MASK: Final = "****"
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Secrets shorter than this are shown as the mask alone: two characters of a short secret
# would give away too much of it.
_MIN_LENGTH_TO_HINT: Final = 12


def env_var(service: str, key: str) -> str:
    """The variable that overrides ``key`` of ``service``: ``FLOWMIXER_PINTEREST_CLIENT_ID``."""
    name = service.split(":", 1)[-1]
    words = _WORD_START.sub("_", key)
    return f"FLOWMIXER_{name}_{words}".upper().replace("-", "_")


class AppConfigStore:
    """Read and change the app configuration of the services in ``services``."""

    def __init__(
        self,
        store: AppConfigRows,
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
        rows: list[ConfigRow] = []
        for key, value in values.items():
            secret = key in manifest.secret_keys
            stored = self._box.seal(value.encode()).decode("ascii") if secret else value
            rows.append(ConfigRow(service, key, stored, secret))
        await self._store.put_app_config(rows)

    def _opened(self, rows: list[ConfigRow]) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for row in rows:
            value = row.value
            plain = self._box.open(value.encode("ascii")).decode() if row.secret else value
            result.setdefault(row.service, {})[row.key] = plain
        return result

    def _overrides(self, service: str) -> dict[str, str]:
        manifest = self._services[service]
        found = {key: self._env.get(env_var(service, key), "") for key in manifest.config_keys}
        return {key: value for key, value in found.items() if value}

    async def get(self, service: str) -> dict[str, str]:
        """The configuration of ``service``: stored values, overridden by the environment."""
        self._manifest(service)
        rows = await self._store.app_config_rows(service)
        return {**self._opened(rows).get(service, {}), **self._overrides(service)}

    def overridden(self, service: str) -> list[str]:
        """The keys of ``service`` whose value comes from the environment now."""
        self._manifest(service)
        return sorted(self._overrides(service))

    async def unset(self, service: str, keys: Sequence[str] = ()) -> None:
        """Remove ``keys`` of ``service`` (all its keys when none are named)."""
        self.check(service, keys)
        await self._store.delete_app_config(service, list(keys))

    async def list(self) -> dict[str, dict[str, str]]:
        """Every configured service (stored or from the environment) with its values; values
        kept for a service no manifest defines any more are left out."""
        rows = await self._store.app_config_rows()
        result = self._opened([row for row in rows if row.service in self._services])
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
        return await self._store.reseal_app_config(self._reseal)

    def _reseal(self, value: str) -> str:
        return self._box.reseal(value.encode("ascii")).decode("ascii")


def _mask(value: str) -> str:
    return MASK + value[-2:] if len(value) >= _MIN_LENGTH_TO_HINT else MASK
