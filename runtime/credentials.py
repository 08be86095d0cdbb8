"""What a component that calls a service gets as ``context.auth``.

A component declares ``auth.service`` in its manifest; when its flow starts, the engine asks a
:data:`CredentialsResolver` for that service's credentials and refuses to start the flow when
there are none. Components never see client secrets: only an access token, fetched for each
call (so a refreshed token is picked up), and non-secret settings such as the API base.

:class:`StaticCredentials` holds a token given directly (an environment variable, a one-shot
call, tests); the auth provider's vault supplies refreshing credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from runtime.errors import ReauthorizeError

if TYPE_CHECKING:
    from runtime.manifest import ComponentManifest


class Credentials(Protocol):
    """Credentials of one account of one service."""

    @property
    def service(self) -> str:
        """The service, e.g. ``acme:pinterest``."""
        ...

    @property
    def account(self) -> str | None:
        """The account's name, when known."""
        ...

    @property
    def settings(self) -> Mapping[str, str]:
        """Non-secret settings of the service for this account (e.g. ``apiBase``)."""
        ...

    async def access_token(self) -> str:
        """A token valid now (refreshed first when it is about to expire)."""
        ...

    async def token_rejected(self, token: str) -> None:
        """The API refused ``token`` (401): refresh once, or raise :class:`ReauthorizeError`."""
        ...


class CredentialsResolver(Protocol):
    """Given a component's manifest, its credentials; None when the service has no account here.

    ``account`` is the account the flow names for the component's service (``accounts`` in the
    flow file); the engine passes it only when the flow names one. A resolver may raise
    :class:`~runtime.errors.ConfigurationError` to say precisely what is missing.
    """

    def __call__(
        self, manifest: ComponentManifest, account: str | None = None, /
    ) -> Credentials | None: ...


class StaticCredentials:
    """A fixed access token; when the API refuses it, a person has to provide another."""

    def __init__(
        self,
        service: str,
        token: str,
        *,
        account: str | None = None,
        settings: Mapping[str, str] | None = None,
        source: str = "the configured access token",
    ) -> None:
        self._service = service
        self._token = token
        self._account = account
        self._settings = dict(settings or {})
        self._source = source

    @property
    def service(self) -> str:
        return self._service

    @property
    def account(self) -> str | None:
        return self._account

    @property
    def settings(self) -> Mapping[str, str]:
        return self._settings

    async def access_token(self) -> str:
        return self._token

    async def token_rejected(self, token: str) -> None:
        raise ReauthorizeError(
            f"{self._service} refused {self._source}; provide a valid one (it cannot be refreshed)"
        )

    def __repr__(self) -> str:
        return f"StaticCredentials(service={self._service!r}, account={self._account!r})"


def environment_credentials(
    environ: Mapping[str, str] | None = None, api_bases: Mapping[str, str] | None = None
) -> CredentialsResolver:
    """Credentials from ``<SERVICE>_ACCESS_TOKEN`` (and ``<SERVICE>_API_BASE``) variables.

    For ``acme:pinterest`` these are ``PINTEREST_ACCESS_TOKEN`` and ``PINTEREST_API_BASE``.
    Without ``<SERVICE>_API_BASE``, the token goes to the service's ``api_bases`` entry (the app
    configuration's ``apiBase``, which ``FLOWMIXER_<SERVICE>_API_BASE`` overrides), as an
    account's calls would.
    """
    env = os.environ if environ is None else environ
    bases = dict(api_bases or {})

    def resolve(manifest: ComponentManifest, account: str | None = None, /) -> Credentials | None:
        if manifest.auth is None or account is not None:  # an environment token has no name
            return None
        service = manifest.auth.service
        prefix = token_prefix(service)
        token = env.get(f"{prefix}_ACCESS_TOKEN")
        if not token:
            return None
        base = env.get(f"{prefix}_API_BASE") or bases.get(service)
        settings = {"apiBase": base} if base else {}
        return StaticCredentials(
            service, token, settings=settings, source=f"the token in {prefix}_ACCESS_TOKEN"
        )

    return resolve


def token_prefix(service: str) -> str:
    """The prefix of a service's environment variables: ``PINTEREST`` for ``acme:pinterest``."""
    return service.split(":", 1)[-1].upper().replace("-", "_")


def token_variable(service: str) -> str:
    """The variable that holds an access token for ``service``: ``PINTEREST_ACCESS_TOKEN``."""
    return f"{token_prefix(service)}_ACCESS_TOKEN"
