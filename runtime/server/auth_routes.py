"""Connecting accounts from a browser: ``GET /auth/{service}/start`` and ``.../callback``.

``start?account=NAME[&scopes=a,b][&replace=true]`` needs the admin token (a browser asks for
it: HTTP Basic with any user name and the token as password; a script may send it as a bearer
token), so
nobody else can connect an account into this server. It redirects the browser to the service's
authorize page with a single-use ``state`` bound to a random cookie set on the browser. The
service sends the browser back to ``<public URL>/auth/{service}/callback``, which checks the
state against that cookie, exchanges the code, keeps the tokens in the vault, resumes the flows
paused because an account of that service needed re-authorizing, and shows a small page. The
redirect URI registered with the service must be exactly that callback URL.

``account`` must be a valid account name (400 otherwise). A login under the name of an account
already connected is refused unless ``replace=true``: at the start when the name is given
(409), and at the callback, which the state tells whether replacing was allowed, when the name
comes from the service's profile.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from runtime.auth.account_names import check_account_name
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.scopes import parse_scope_list, scopes_to_request
from runtime.auth.states import LoginStateError
from runtime.auth.vault import AccountExistsError, already_connected
from runtime.errors import ConfigurationError, FlowmixerError
from runtime.redaction import redact_text
from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.server.security import admin_credential, same_secret

if TYPE_CHECKING:
    from runtime.auth.states import LoginStates
    from runtime.manifest import ServiceManifest
    from runtime.server.context import ServerContext

BINDING_COOKIE = "flowmixer_login"


@dataclass(frozen=True, slots=True)
class OAuthLogins:
    """What browser logins need besides the vault and the app configuration.

    ``on_connected`` runs after an account is stored (the server reloads its accounts).
    """

    states: LoginStates
    on_connected: Callable[[], Awaitable[object]] | None = None


def _page(status: int, message: str) -> web.Response:
    body = f"<!doctype html><title>flowmixer</title><p>{html.escape(message)}</p>"
    return web.Response(status=status, text=body, content_type="text/html")


def _service(ctx: ServerContext, name: str) -> ServiceManifest:
    found = [
        s
        for s in ctx.registry.services().values()
        if s.oauth2 is not None and s.service.split(":", 1)[-1] == name
    ]
    if len(found) != 1:
        raise fail(404, f"no service named {name!r} connects with OAuth2")
    return found[0]


def _redirect_uri(ctx: ServerContext, name: str) -> str:
    return f"{ctx.public_url}/auth/{name}/callback"


async def _client(
    ctx: ServerContext,
    logins: OAuthLogins,
    manifest: ServiceManifest,
    session: aiohttp.ClientSession,
) -> OAuth2Client:
    assert ctx.app_config is not None  # the routes exist only with one
    try:
        app = await ctx.app_config.require(manifest.service, ["clientId", "clientSecret"])
    except ConfigurationError as exc:
        raise fail(503, str(exc)) from None
    return OAuth2Client(manifest, app, session, ctx.registry.oauth2_hooks(manifest.service))


def _replace(request: web.Request) -> bool:
    value = request.query.get("replace", "false")
    if value not in ("true", "false"):
        raise fail(400, f"replace: expected true or false, not {value[:20]!r}")
    return value == "true"


def _logins(request: web.Request) -> OAuthLogins:
    logins = request.app[CONTEXT].logins
    assert logins is not None  # the routes exist only with logins
    return logins


async def start(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    given = admin_credential(request)
    if ctx.admin_token is None or given is None or not same_secret(given, ctx.admin_token):
        refused = fail(401, "starting a login needs the admin token (FLOWMIXER_ADMIN_TOKEN)")
        refused.headers["WWW-Authenticate"] = 'Basic realm="flowmixer admin", charset="UTF-8"'
        raise refused
    name = request.match_info["service"]
    manifest = _service(ctx, name)
    override = request.query.get("scopes")
    try:
        scopes = scopes_to_request(
            manifest,
            ctx.registry.components(),
            parse_scope_list(override) if override is not None else None,
        )
    except ConfigurationError as exc:
        raise fail(400, str(exc)) from None
    account = request.query.get("account") or None
    replace = _replace(request)
    if account is not None:
        try:
            check_account_name(account)
        except ConfigurationError as exc:
            raise fail(400, str(exc)) from None
        assert ctx.vault is not None  # the routes exist only with one
        if not replace and await ctx.vault.account(manifest.service, account) is not None:
            raise fail(409, already_connected(manifest.service, account))
    binding = secrets.token_urlsafe(32)
    redirect_uri = _redirect_uri(ctx, name)
    async with aiohttp.ClientSession() as session:
        client = await _client(ctx, _logins(request), manifest, session)
        state = await _logins(request).states.issue(
            manifest.service,
            redirect_uri=redirect_uri,
            binding=binding,
            account=account,
            scopes=scopes,
            replace=replace,
        )
        target = client.authorize_url(state=state, redirect_uri=redirect_uri, scopes=scopes)
    response = web.HTTPFound(target)
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        path=f"/auth/{name}/",
        max_age=600,
        httponly=True,
        samesite="Lax",
        secure=ctx.public_url.startswith("https://"),
    )
    ctx.logger.info("login started", service=manifest.service, account=account)
    raise response


async def callback(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    logins = _logins(request)
    name = request.match_info["service"]
    manifest = _service(ctx, name)
    query = request.query
    try:
        pending = await logins.states.consume(
            query.get("state", ""),
            service=manifest.service,
            redirect_uri=_redirect_uri(ctx, name),
            binding=request.cookies.get(BINDING_COOKIE, "") or "-",
        )
    except LoginStateError as exc:
        return _page(400, str(exc))
    if "error" in query:
        why = redact_text(query.get("error", ""))[:100]
        ctx.logger.warning("login not approved", service=manifest.service, error=why)
        return _page(400, f"The login was not approved ({why}).")
    assert ctx.vault is not None  # the routes exist only with one
    try:
        async with aiohttp.ClientSession() as session:
            client = await _client(ctx, logins, manifest, session)
            tokens = await client.exchange_code(query.get("code", ""), pending.redirect_uri)
            account = pending.account or await client.account_name(tokens)
        await ctx.vault.save(manifest.service, account, tokens, replace=pending.replace)
    except AccountExistsError as exc:
        ctx.logger.warning("login refused", service=manifest.service, error=str(exc))
        return _page(409, f"The login was refused: {exc}")
    except FlowmixerError as exc:
        ctx.logger.warning("login failed", service=manifest.service, error=str(exc))
        return _page(502, f"The login failed: {exc}")
    if logins.on_connected is not None:
        await logins.on_connected()
    ctx.logger.info("account connected", service=manifest.service, account=account)
    resumed = await ctx.engine.resume_paused(manifest.service)
    if ctx.notices is not None:  # the flows paused on every process of a scale-out
        from runtime.server.reconcile import resume_awaiting

        resumed += await resume_awaiting(ctx, manifest.service)
    if resumed:
        ctx.logger.info("paused flows resumed", service=manifest.service, flows=resumed)
    page = _page(200, f"{manifest.service} account {account} is connected; you may close this.")
    page.del_cookie(BINDING_COOKIE, path=f"/auth/{name}/")
    return page


def add_routes(app: web.Application) -> None:
    """Add the login routes when the server has logins, a vault and an app configuration."""
    ctx = app[CONTEXT]
    if ctx.logins is None or ctx.vault is None or ctx.app_config is None:
        return
    app.router.add_get("/auth/{service}/start", start)
    app.router.add_get("/auth/{service}/callback", callback)
