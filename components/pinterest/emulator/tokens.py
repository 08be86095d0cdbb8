"""Token grants: authorization codes, access and refresh tokens, rotation and revocation.

Access tokens start with ``pina``, refresh tokens with ``pinr``. Refresh tokens are
continuous: every refresh answers a new refresh token (with a fresh lifetime) and the one used
stops working. Revoking a refresh token also revokes the access tokens of its grant.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from components.pinterest.emulator.config import EmulatorConfig
from components.pinterest.emulator.operations import ALL_SCOPES
from components.pinterest.emulator.state import App, AuthorizationCode, State, Token


class GrantError(Exception):
    """A grant request that is refused; the message says why (no secret values in it)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token pair as handed to a client (``refresh_token`` is ``None`` for app tokens)."""

    access_token: str
    refresh_token: str | None
    scopes: tuple[str, ...]
    expires_in: int
    refresh_token_expires_in: int | None
    refresh_token_expires_at: int | None
    user_id: str
    client_id: str


def parse_scopes(text: str) -> list[str]:
    """Scopes from a comma- or space-separated list; ``GrantError`` on an unknown scope."""
    scopes = [s for s in text.replace(",", " ").split() if s]
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise GrantError(f"Unknown scope(s): {', '.join(unknown)}.")
    if not scopes:
        raise GrantError("At least one scope must be requested.")
    return list(dict.fromkeys(scopes))


class Grants:
    """Issues and checks tokens and codes in one emulator's :class:`State`."""

    def __init__(self, state: State, config: EmulatorConfig) -> None:
        self._state = state
        self._config = config

    def issue(
        self,
        client_id: str,
        user_id: str,
        scopes: Iterable[str],
        *,
        via: str,
        refreshable: bool = True,
        access_token: str | None = None,
        refresh_token: str | None = None,
        family: str | None = None,
    ) -> IssuedToken:
        """New tokens for ``user_id`` through app ``client_id`` (values may be given by seeds)."""
        now = self._state.clock()
        granted = frozenset(scopes)
        family = family or secrets.token_hex(8)
        access = access_token or "pina" + secrets.token_urlsafe(32)
        access_life = self._config.access_token_seconds
        self._state.tokens[access] = Token(
            access, "access", client_id, user_id, granted, now + access_life, family, via
        )
        refresh = None
        refresh_life = self._config.refresh_token_seconds
        if refreshable:
            refresh = refresh_token or "pinr" + secrets.token_urlsafe(32)
            self._state.tokens[refresh] = Token(
                refresh, "refresh", client_id, user_id, granted, now + refresh_life, family, via
            )
        return IssuedToken(
            access_token=access,
            refresh_token=refresh,
            scopes=tuple(sorted(granted)),
            expires_in=access_life,
            refresh_token_expires_in=refresh_life if refresh else None,
            refresh_token_expires_at=int(now + refresh_life) if refresh else None,
            user_id=user_id,
            client_id=client_id,
        )

    def new_code(self, app: App, redirect_uri: str, user_id: str, scopes: Iterable[str]) -> str:
        code = secrets.token_urlsafe(24)
        expires_at = self._state.clock() + self._config.code_seconds
        self._state.codes[code] = AuthorizationCode(
            code, app.client_id, redirect_uri, user_id, frozenset(scopes), expires_at
        )
        return code

    def exchange_code(self, app: App, code: str, redirect_uri: str) -> IssuedToken:
        grant = self._state.codes.get(code)
        if grant is None or grant.client_id != app.client_id:
            raise GrantError("The authorization code is not valid for this app.")
        if grant.used:
            raise GrantError("The authorization code has already been used.")
        grant.used = True
        if self._state.clock() >= grant.expires_at:
            raise GrantError("The authorization code has expired; authorize again.")
        if redirect_uri != grant.redirect_uri:
            raise GrantError("redirect_uri does not match the one used to authorize.")
        return self.issue(app.client_id, grant.user_id, grant.scopes, via="authorization_code")

    def refresh(self, app: App, refresh_token: str, scope: str | None) -> IssuedToken:
        token = self._state.tokens.get(refresh_token)
        if (
            token is None
            or token.kind != "refresh"
            or token.client_id != app.client_id
            or not token.usable(self._state.clock())
        ):
            raise GrantError("The refresh token is invalid, expired or revoked; authorize again.")
        scopes = token.scopes
        if scope:
            asked = frozenset(parse_scopes(scope))
            if not asked <= token.scopes:
                extra = ", ".join(sorted(asked - token.scopes))
                raise GrantError(f"The refresh may only narrow the scopes; not granted: {extra}.")
            scopes = asked
        token.revoked = True
        return self.issue(
            app.client_id, token.user_id, scopes, via="refresh_token", family=token.family
        )

    def client_credentials(self, app: App, scope: str) -> IssuedToken:
        scopes = parse_scopes(scope)
        return self.issue(
            app.client_id, app.owner_id, scopes, via="client_credentials", refreshable=False
        )

    def revoke(self, app: App, value: str) -> bool:
        """Revoke ``value``; ``False`` when it belongs to another app. Unknown tokens pass."""
        token = self._state.tokens.get(value)
        if token is None:
            return True
        if token.client_id != app.client_id:
            return False
        token.revoked = True
        if token.kind == "refresh":
            for other in self._state.tokens.values():
                if other.family == token.family:
                    other.revoked = True
        return True
