"""A login from a terminal: a one-shot callback listener on 127.0.0.1 (RFC 8252).

:func:`loopback_login` listens on ``127.0.0.1`` (port 0: any free one), announces the
authorize URL, waits for the browser to come back to
``http://127.0.0.1:<port>/auth/<service name>/callback``, checks the state, exchanges the code
and keeps the tokens in the vault. A callback with a wrong state is answered 400 and the login
keeps waiting for the right one; a denial ends it. The state is bound to this process's own
random secret, which never leaves it. A login under the name of an account already connected
fails unless ``replace`` is given (the service's tokens are then not kept).
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from runtime.auth.states import LoginStateError
from runtime.errors import FlowmixerError
from runtime.redaction import redact_text

if TYPE_CHECKING:
    from runtime.auth.oauth2 import OAuth2Client
    from runtime.auth.states import LoginStates
    from runtime.auth.vault import TokenVault


class LoginError(FlowmixerError):
    """The login did not complete (denied, timed out, or the exchange failed)."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The connected account (no secrets)."""

    service: str
    account: str
    scopes: tuple[str, ...]


def callback_path(service: str) -> str:
    """``/auth/pinterest/callback`` for ``acme:pinterest``."""
    return f"/auth/{service.split(':', 1)[-1]}/callback"


def _page(status: int, message: str) -> web.Response:
    body = f"<!doctype html><title>flowmixer</title><p>{html.escape(message)}</p>"
    return web.Response(status=status, text=body, content_type="text/html")


async def loopback_login(
    client: OAuth2Client,
    states: LoginStates,
    vault: TokenVault,
    *,
    scopes: Sequence[str],
    announce: Callable[[str], None],
    account: str | None = None,
    replace: bool = False,
    port: int = 0,
    timeout: float = 600.0,
) -> LoginResult:
    """Run one login; ``announce`` gets the authorize URL to open in a browser."""
    service = client.service
    binding = secrets.token_urlsafe(32)
    done: asyncio.Future[LoginResult] = asyncio.get_running_loop().create_future()
    redirect_uri = ""

    async def callback(request: web.Request) -> web.Response:
        if done.done():
            return _page(410, "This login is already over.")
        query = request.query
        try:
            pending = await states.consume(
                query.get("state", ""), service=service, redirect_uri=redirect_uri, binding=binding
            )
        except LoginStateError as exc:
            return _page(400, str(exc))
        if "error" in query:
            why = redact_text(query.get("error", ""))[:100]
            done.set_exception(LoginError(f"the login to {service} was not approved ({why})"))
            return _page(400, "The login was not approved; you may close this window.")
        try:
            tokens = await client.exchange_code(query.get("code", ""), redirect_uri)
            name = pending.account or await client.account_name(tokens)
            await vault.save(service, name, tokens, replace=pending.replace)
        except FlowmixerError as exc:
            done.set_exception(LoginError(f"the login to {service} failed: {exc}"))
            return _page(400, "The login failed; see the terminal.")
        done.set_result(LoginResult(service, name, tokens.scopes))
        return _page(200, f"{service} account {name} is connected; you may close this window.")

    app = web.Application()
    app.router.add_get(callback_path(service), callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    try:
        await site.start()
        bound = runner.addresses[0][1]
        redirect_uri = f"http://127.0.0.1:{bound}{callback_path(service)}"
        state = await states.issue(
            service,
            redirect_uri=redirect_uri,
            binding=binding,
            account=account,
            scopes=scopes,
            replace=replace,
        )
        announce(client.authorize_url(state=state, redirect_uri=redirect_uri, scopes=scopes))
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise LoginError(
                f"no answer from the browser within {timeout:g} seconds; start the login again"
            ) from None
    finally:
        if not done.done():
            done.cancel()
        await runner.cleanup()
