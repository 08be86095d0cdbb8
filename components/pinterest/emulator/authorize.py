"""The authorize page, ``<root>/oauth/`` (the real one is ``https://www.pinterest.com/oauth/``).

``GET`` checks ``client_id``, ``redirect_uri``, ``response_type=code`` and ``scope`` (comma
separated, at least one known v5 scope) and shows Approve/Deny buttons that ``POST`` back; with
``auto_approve`` it redirects at once. Approval redirects to ``redirect_uri?code=…&state=…``,
denial to ``redirect_uri?error=access_denied&state=…``. Without a known app and a registered
redirect URI the page answers 400 and redirects nowhere.

A redirect URI must equal one registered for the app, except that a registered loopback URI
(``http://127.0.0.1/…``, ``http://localhost/…``) matches the same URI with any port, as
RFC 8252 §7.3 asks of servers for native apps.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from yarl import URL

from components.pinterest.emulator.context import emulator
from components.pinterest.emulator.state import App
from components.pinterest.emulator.tokens import GrantError, parse_scopes

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    app: App
    redirect_uri: str
    scopes: list[str]
    state: str | None


def redirect_allowed(registered: tuple[str, ...], given: str) -> bool:
    if given in registered:
        return True
    parts = urlsplit(given)
    if parts.scheme != "http" or parts.port is None or parts.fragment:
        return False
    host = parts.netloc.rsplit(":", 1)[0]
    if host not in LOOPBACK_HOSTS:
        return False
    return urlunsplit(("http", host, parts.path, parts.query, "")) in registered


async def page(request: web.Request) -> web.Response:
    """``GET /oauth/``: the consent page, or a redirect when auto-approving."""
    emu = emulator(request)
    asked = _check(request, request.query)
    if isinstance(asked, web.Response):
        return asked
    if emu.config.auto_approve:
        return _approve(request, asked, emu.signed_in_user)
    return web.Response(text=_consent_html(request, asked), content_type="text/html")


async def decide(request: web.Request) -> web.Response:
    """``POST /oauth/``: the Approve or Deny button of the consent page."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    asked = _check(request, form)
    if isinstance(asked, web.Response):
        return asked
    if form.get("decision") != "approve":
        return _redirect(asked.redirect_uri, {"error": "access_denied"}, asked.state)
    user_id = form.get("user") or emulator(request).signed_in_user
    if user_id not in emulator(request).state.users:
        return _error_page(f"Unknown user {user_id!r}.")
    return _approve(request, asked, user_id)


def _check(request: web.Request, params: Mapping[str, str]) -> AuthorizeRequest | web.Response:
    """The checked request, or the answer to give instead (an error page or redirect)."""
    client_id = params.get("client_id", "")
    if not client_id:
        return _error_page("You must pass a value for client_id.")
    app = emulator(request).state.apps.get(client_id)
    if app is None:
        return _error_page(f"There is no app with client_id {client_id!r}.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_allowed(app.redirect_uris, redirect_uri):
        return _error_page(
            f"redirect_uri {redirect_uri!r} is not registered for this app; registered: "
            + ", ".join(app.redirect_uris)
        )
    state = params.get("state")
    if params.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type"}, state)
    try:
        scopes = parse_scopes(params.get("scope", ""))
    except GrantError as exc:
        extra = {"error": "invalid_scope", "error_description": str(exc)}
        return _redirect(redirect_uri, extra, state)
    return AuthorizeRequest(app, redirect_uri, scopes, state)


def _approve(request: web.Request, asked: AuthorizeRequest, user_id: str) -> web.Response:
    code = emulator(request).grants.new_code(asked.app, asked.redirect_uri, user_id, asked.scopes)
    return _redirect(asked.redirect_uri, {"code": code}, asked.state)


def _redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> web.Response:
    if state is not None:
        params = {**params, "state": state}
    location = URL(redirect_uri).update_query(params)
    return web.Response(status=302, headers={"Location": str(location)})


def _error_page(message: str) -> web.Response:
    body = f"<!doctype html><title>Authorization error</title><p>{html.escape(message)}</p>"
    return web.Response(status=400, text=body, content_type="text/html")


def _consent_html(request: web.Request, asked: AuthorizeRequest) -> str:
    emu = emulator(request)
    hidden = {
        "client_id": asked.app.client_id,
        "redirect_uri": asked.redirect_uri,
        "response_type": "code",
        "scope": ",".join(asked.scopes),
        **({"state": asked.state} if asked.state is not None else {}),
    }
    fields = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in hidden.items()
    )
    users = "".join(
        f'<option value="{u.id}"{" selected" if u.id == emu.signed_in_user else ""}>'
        f"{html.escape(u.username)}</option>"
        for u in emu.state.users.values()
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in asked.scopes)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Authorize app</title></head>"
        f"<body><h1>{html.escape(asked.app.name)} wants access to your Pinterest account</h1>"
        f"<ul>{scopes}</ul><form method='post' action='{request.path}'>{fields}"
        f"<label>Signed in as <select name='user'>{users}</select></label> "
        "<button name='decision' value='approve'>Approve</button> "
        "<button name='decision' value='deny'>Deny</button></form></body></html>"
    )
