"""The OAuth2 authorization-code flow of a service, driven by its manifest's ``oauth2`` part.

:class:`OAuth2Client` builds the authorize URL, exchanges a code, refreshes, revokes and asks
the service for the account's name. What differs between services is in the manifest (URLs,
scope delimiter, client authentication, extra token parameters, profile URL and name field);
what the manifest cannot say goes in small :class:`OAuth2Hooks` that the manifest names
(``oauth2.hooks``).

The app's configuration (``clientId``, ``clientSecret``) may also override ``authorizeUrl``,
``tokenUrl`` and ``apiBase`` (an emulator or a sandbox): URLs of the manifest under its
``apiBase`` move to the overriding one. No error or log line carries a token, a code or the
client secret.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from runtime.auth.vault import TokenSet
from runtime.errors import ConfigurationError, FlowmixerError, ReauthorizeError
from runtime.manifest import OAuth2Settings, ServiceManifest
from runtime.redaction import redact_text


class OAuth2Error(FlowmixerError):
    """The service's token endpoint failed or answered something unusable."""


class InvalidGrantError(ReauthorizeError):
    """The service refused a code or refresh token: the account has to be connected again."""


class OAuth2Hooks:
    """What a service does differently from what its manifest's ``oauth2`` settings can say.

    A service manifest names its subclass in ``oauth2.hooks`` (``"package.module:Class"``); the
    manifest loader imports it and makes one with no arguments. Override only what differs.
    """

    def token_params(self, grant_type: str, settings: OAuth2Settings) -> dict[str, str]:
        """Extra form fields of a token request (default: the manifest's ``extraTokenParams``)."""
        return dict(settings.extra_token_params)

    def refused_grant(self, status: int, body: Any, settings: OAuth2Settings) -> bool:
        """Whether a failed token request means the code or refresh token is no good (default:
        a status of ``refusedGrantStatuses``, or OAuth's ``"error": "invalid_grant"``)."""
        if status in settings.refused_grant_statuses:
            return True
        return isinstance(body, dict) and body.get("error") == "invalid_grant"

    def account_name(self, profile: Any, field: str | None) -> str:
        """The account's name in the profile answer."""
        value = profile.get(field or "username") if isinstance(profile, dict) else None
        if not isinstance(value, str) or not value:
            raise OAuth2Error(f"the profile has no {field or 'username'!r} to name the account by")
        return value


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error_description", "message", "error"):
            if isinstance(body.get(key), str):
                return redact_text(str(body[key]))[:200]
    return ""


class OAuth2Client:
    """The authorization-code flow of one service for one app (its client id and secret)."""

    def __init__(
        self,
        manifest: ServiceManifest,
        app: Mapping[str, str],
        session: aiohttp.ClientSession,
        hooks: OAuth2Hooks | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if manifest.oauth2 is None:
            raise ConfigurationError(f"{manifest.service} does not use OAuth2")
        missing = [key for key in ("clientId", "clientSecret") if not app.get(key)]
        if missing:
            raise ConfigurationError(f"{manifest.service} has no {', '.join(missing)} configured")
        self.manifest = manifest
        self._settings = manifest.oauth2
        self._client_id = app["clientId"]
        self._client_secret = app["clientSecret"]
        self._session = session
        self._hooks = hooks or OAuth2Hooks()
        self._clock = clock
        base = manifest.api_base or ""
        self.api_base = (app.get("apiBase") or base).rstrip("/")

        def rebased(url: str | None) -> str | None:
            if url and base and app.get("apiBase") and url.startswith(base):
                return self.api_base + url[len(base.rstrip("/")) :]
            return url

        self.authorize_endpoint = app.get("authorizeUrl") or self._settings.authorize_url
        self.token_endpoint = app.get("tokenUrl") or rebased(self._settings.token_url) or ""
        self.revoke_endpoint = rebased(self._settings.revoke_url)
        self.profile_endpoint = rebased(self._settings.profile_url)

    @property
    def service(self) -> str:
        return self.manifest.service

    def __repr__(self) -> str:
        return f"OAuth2Client(service={self.service!r}, client_id={self._client_id!r})"

    def authorize_url(self, *, state: str, redirect_uri: str, scopes: Sequence[str]) -> str:
        """Where to send the person's browser to approve the app."""
        params = {
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self._settings.scope_delimiter.join(scopes),
            "state": state,
            **self._settings.extra_authorize_params,
        }
        separator = "&" if "?" in self.authorize_endpoint else "?"
        return self.authorize_endpoint + separator + urlencode(params, quote_via=quote)

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """The tokens for an authorization ``code`` (sent with the same ``redirect_uri``)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token_request(form, None)

    async def refresh(self, refresh_token: str, *, previous: TokenSet | None = None) -> TokenSet:
        """New tokens; :class:`InvalidGrantError` when the service refuses ``refresh_token``.

        When the answer carries no new refresh token, the old one is kept.
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        tokens = await self._token_request(form, previous)
        if tokens.refresh_token is None:
            return TokenSet(
                access_token=tokens.access_token,
                refresh_token=refresh_token,
                expires_at=tokens.expires_at,
                refresh_expires_at=previous.refresh_expires_at if previous else None,
                scopes=tokens.scopes,
                token_type=tokens.token_type,
            )
        return tokens

    async def account_name(self, tokens: TokenSet) -> str:
        """The account's name from the service's profile endpoint."""
        if not self.profile_endpoint:
            raise ConfigurationError(f"{self.service} has no profileUrl to name accounts by")
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        async with self._session.get(self.profile_endpoint, headers=headers) as response:
            body = await _json(response)
            if response.status != 200:
                raise OAuth2Error(
                    f"{self.service} did not give the account's profile (HTTP {response.status})"
                )
        return self._hooks.account_name(body, self._settings.account_name_field)

    async def revoke(self, token: str) -> bool:
        """Ask the service to revoke ``token``; whether it did (False: no revoke endpoint)."""
        if not self.revoke_endpoint:
            return False
        form = {"token": token}
        async with self._session.post(
            self.revoke_endpoint, data=self._with_client(form), headers=self._auth_headers()
        ) as response:
            await response.read()
            return response.status in (200, 204)

    def _auth_headers(self) -> dict[str, str]:
        if self._settings.client_authentication != "basic":
            return {"Accept": "application/json"}
        pair = f"{quote(self._client_id, safe='')}:{quote(self._client_secret, safe='')}"
        return {
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
            "Accept": "application/json",
        }

    def _with_client(self, form: dict[str, str]) -> dict[str, str]:
        if self._settings.client_authentication == "body":
            return {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        return form

    async def _token_request(self, form: dict[str, str], previous: TokenSet | None) -> TokenSet:
        grant_type = form["grant_type"]
        data = self._with_client({**form, **self._hooks.token_params(grant_type, self._settings)})
        try:
            async with self._session.post(
                self.token_endpoint, data=data, headers=self._auth_headers()
            ) as response:
                body = await _json(response)
                status = response.status
        except aiohttp.ClientError as exc:
            raise OAuth2Error(
                f"{self.service}'s token endpoint could not be reached ({type(exc).__name__})"
            ) from None
        if status != 200:
            why = _error_text(body)
            what = "authorization code" if grant_type == "authorization_code" else "refresh token"
            if self._hooks.refused_grant(status, body, self._settings):
                raise InvalidGrantError(
                    f"{self.service} refused the {what} (HTTP {status}{': ' + why if why else ''});"
                    " connect the account again"
                )
            raise OAuth2Error(
                f"{self.service}'s token endpoint answered HTTP {status}"
                + (f": {why}" if why else "")
            )
        return self._token_set(body, previous)

    def _token_set(self, body: Any, previous: TokenSet | None) -> TokenSet:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise OAuth2Error(f"{self.service}'s token endpoint answered without an access token")
        now = self._clock()
        expires_in = body.get("expires_in")
        refresh_in = body.get("refresh_token_expires_in")
        scope = body.get("scope")
        scopes = (
            tuple(sorted(set(scope.replace(",", " ").split())))
            if isinstance(scope, str)
            else (previous.scopes if previous else ())
        )
        refresh = body.get("refresh_token")
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=now + float(expires_in) if isinstance(expires_in, int | float) else None,
            refresh_expires_at=(
                now + float(refresh_in) if isinstance(refresh_in, int | float) else None
            ),
            scopes=scopes,
            token_type=str(body.get("token_type") or "bearer").lower(),
        )


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None
