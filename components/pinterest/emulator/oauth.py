"""``POST /v5/oauth/token`` and ``POST /v5/oauth/token/revoke``: form bodies, HTTP Basic.

Grants: ``authorization_code`` (``code`` + ``redirect_uri``), ``refresh_token``
(``refresh_token``, optional narrowing ``scope``) and ``client_credentials`` (``scope``).
Unknown form fields (``continuous_refresh``, ``refresh_on``…) are accepted and ignored: every
refresh token is continuous. Bad client credentials get 401 code 2; a refused grant gets 400
code 1 saying why.
"""

from __future__ import annotations

from hmac import compare_digest
from typing import Any

from aiohttp import web

from components.pinterest.emulator.auth import basic_credentials
from components.pinterest.emulator.context import emulator
from components.pinterest.emulator.errors import (
    authentication_failed,
    invalid,
    json_response,
    not_permitted,
)
from components.pinterest.emulator.state import App
from components.pinterest.emulator.tokens import GrantError, IssuedToken

FORM = "application/x-www-form-urlencoded"


async def token(request: web.Request) -> web.Response:
    emu = emulator(request)
    form = await _form(request)
    grant_type = form.get("grant_type", "")
    emu.stats.token_requests[grant_type] += 1
    app = _client(request)
    _check_form(request)
    try:
        if grant_type == "authorization_code":
            issued = emu.grants.exchange_code(
                app, _required(form, "code"), _required(form, "redirect_uri")
            )
        elif grant_type == "refresh_token":
            issued = emu.grants.refresh(app, _required(form, "refresh_token"), form.get("scope"))
        elif grant_type == "client_credentials":
            issued = emu.grants.client_credentials(app, _required(form, "scope"))
        else:
            raise invalid(
                f"Invalid parameter: grant_type {grant_type!r} is not supported; use"
                " authorization_code, refresh_token or client_credentials."
            )
    except GrantError as exc:
        raise invalid(str(exc)) from None
    return json_response(token_body(issued, grant_type))


async def revoke(request: web.Request) -> web.Response:
    emu = emulator(request)
    form = await _form(request)
    app = _client(request)
    _check_form(request)
    hint = form.get("token_type_hint")
    if hint is not None and hint not in ("access_token", "refresh_token"):
        raise invalid(
            f"Invalid parameter: token_type_hint is {hint!r}; use access_token or refresh_token."
        )
    if not emu.grants.revoke(app, _required(form, "token")):
        raise not_permitted()
    return web.Response(status=200)


def token_body(issued: IssuedToken, grant_type: str) -> dict[str, Any]:
    """The ``OauthAccessTokenResponse`` for a grant."""
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(issued.scopes),
        "response_type": grant_type,
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
        body["refresh_token_expires_in"] = issued.refresh_token_expires_in
        body["refresh_token_expires_at"] = issued.refresh_token_expires_at
    return body


async def _form(request: web.Request) -> dict[str, str]:
    """The form fields (none when the body is not a form: see :func:`_check_form`)."""
    if request.content_type != FORM:
        return {}
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _check_form(request: web.Request) -> None:
    if request.content_type != FORM:
        raise invalid(f"The request body must be {FORM}, not {request.content_type or 'empty'}.")


def _client(request: web.Request) -> App:
    credentials = basic_credentials(request)
    app = emulator(request).state.apps.get(credentials[0]) if credentials else None
    if credentials is None or app is None or not compare_digest(app.client_secret, credentials[1]):
        raise authentication_failed()
    return app


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise invalid(f"Invalid parameter: {name} is required for this grant_type.")
    return value
