"""Who may call what: the admin bearer token, hook secrets, and an access log without secrets."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from runtime.server.context import CONTEXT
from runtime.server.errors import fail

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

ADMIN_PREFIX = "/api/"
HOOK_SECRET_HEADER = "X-Flowmixer-Hook-Secret"
NO_TOKEN = (
    "the admin API is off: set FLOWMIXER_ADMIN_TOKEN (a long random string, e.g. from"
    " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) and restart the server"
)


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def admin_credential(request: web.Request) -> str | None:
    """The admin token a request carries: a bearer token, or the password of HTTP Basic
    (what a browser sends after asking for it; the user name is ignored)."""
    token = bearer_token(request)
    if token is not None:
        return token
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    password = decoded.partition(":")[2]
    return password or None


def same_secret(given: str, expected: str) -> bool:
    """Compare in constant time (as bytes: ``compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let ``/api/`` requests through only with ``Authorization: Bearer <admin token>``."""
    if not request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    expected = request.app[CONTEXT].admin_token
    if expected is None:
        raise fail(503, NO_TOKEN)
    given = bearer_token(request)
    if given is None:
        raise fail(401, "this needs the header `Authorization: Bearer <FLOWMIXER_ADMIN_TOKEN>`")
    if not same_secret(given, expected):
        raise fail(401, "the admin token is wrong")
    return await handler(request)


def hook_secret(request: web.Request) -> str | None:
    """The secret a hook call carries: the header, else the ``secret`` query parameter."""
    return request.headers.get(HOOK_SECRET_HEADER) or request.query.get("secret") or None


class AccessLogger(AbstractAccessLogger):
    """One debug line per request: method, path without its query (``?secret=`` stays out)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %s %.1fms", request.method, request.path, response.status, time * 1000
        )
