"""Who is calling: Bearer tokens for API calls, HTTP Basic client credentials for OAuth.

An API call needs ``Authorization: Bearer <access token>``; a missing, unknown, expired or
revoked token gets 401 code 2. The token must hold every scope of the operation's security
requirement (they are ANDed); otherwise 401 code 3 names the missing scopes. App tokens
(client credentials) are accepted only where the operation allows them.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web
from aiohttp.typedefs import Handler

from components.pinterest.emulator.context import CALLER, OPERATION, Caller, emulator
from components.pinterest.emulator.errors import ApiError, authentication_failed, missing_scopes


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from a Basic ``Authorization`` header, if well formed."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Checks the Bearer token and scopes of every API call, then records the caller."""
    operation = request.get(OPERATION)
    if operation is None or operation.basic:
        return await handler(request)
    emu = emulator(request)
    value = bearer_token(request)
    token = emu.state.tokens.get(value or "")
    if token is None or token.kind != "access" or not token.usable(emu.clock()):
        return authentication_failed().response()
    try:
        _check_scopes(operation.scopes, token.scopes, operation.client_credentials, token.via)
    except ApiError as exc:
        return exc.response()
    request[CALLER] = Caller(token.user_id, token.client_id, token.scopes)
    return await handler(request)


def _check_scopes(
    needed: frozenset[str], granted: frozenset[str], app_tokens_ok: bool, via: str
) -> None:
    if via == "client_credentials" and not app_tokens_ok:
        raise missing_scopes(
            "This operation needs a user's token; app (client credentials) tokens are not accepted."
        )
    missing = sorted(needed - granted)
    if missing:
        raise missing_scopes(
            "Your token lacks the scopes this operation needs: " + ", ".join(missing) + "."
        )
