"""Credentials that are a secret of a service's app configuration, sent in a header.

A component (or a flow, through ``flowmixer.core.HttpRequest``'s ``auth`` property) that says
``{"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}`` sends the value of
the app configuration's ``apiKey`` (``flowmixer config set acme:weather apiKey=...``, sealed at
rest because the service lists it in ``secretKeys``) as ``X-Api-Key``. The flow file holds only
the key's name; the value is never in a message, a log line or ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from runtime.auth.app_config import env_var
from runtime.errors import ConfigurationError, ReauthorizeError

if TYPE_CHECKING:
    from runtime.manifest import AuthRequirement


class HeaderSecretCredentials:
    """A fixed secret sent as ``header_name: [scheme ]<secret>`` (``header_name`` and
    ``scheme`` are what the connector SDK's client reads); it cannot be refreshed."""

    def __init__(
        self,
        service: str,
        key: str,
        secret: str,
        *,
        header_name: str,
        scheme: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self._service = service
        self._key = key
        self._secret = secret
        self.header_name = header_name
        self.scheme = scheme or ""  # empty: the secret alone, e.g. "X-Api-Key: <secret>"
        self._settings = dict(settings or {})

    @property
    def service(self) -> str:
        return self._service

    @property
    def account(self) -> str | None:
        return None

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings

    async def access_token(self) -> str:
        return self._secret

    async def token_rejected(self, token: str) -> None:
        raise ReauthorizeError(
            f"{self._service} refused the {self._key} of its app configuration; set a valid"
            f" one with `flowmixer config set {self._service} {self._key}=...`, then resume"
            " the flow"
        )

    def __repr__(self) -> str:
        return (
            f"HeaderSecretCredentials(service={self._service!r}, key={self._key!r},"
            f" header_name={self.header_name!r})"
        )


def not_configured(service: str, key: str) -> str:
    """What to do when the secret ``key`` of ``service`` has no value."""
    return (
        f"{service} has no {key} in its app configuration; set it with `flowmixer config set"
        f" {service} {key}=...` or {env_var(service, key)}"
    )


def header_secret(
    auth: AuthRequirement,
    configured: Mapping[str, Mapping[str, str]],
    api_bases: Mapping[str, str] | None = None,
) -> HeaderSecretCredentials:
    """The credentials ``auth`` (which names a ``secret``) asks for, from ``configured``
    (service -> its app configuration); :class:`ConfigurationError` saying how to set it."""
    assert auth.secret is not None
    assert auth.header is not None
    value = configured.get(auth.service, {}).get(auth.secret)
    if not value:
        raise ConfigurationError(not_configured(auth.service, auth.secret))
    base = (api_bases or {}).get(auth.service)
    return HeaderSecretCredentials(
        auth.service,
        auth.secret,
        value,
        header_name=auth.header,
        scheme=auth.scheme,
        settings={"apiBase": base} if base else {},
    )
