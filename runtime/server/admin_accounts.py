"""The admin API's accounts (the token vault) and app configuration, under ``/api/``.

=======  ================================  ===================================================
GET      /api/accounts                     connected accounts (``?service=``), no tokens
DELETE   /api/accounts/{service}/{name}    forget an account's tokens (they are not revoked)
GET      /api/config                       every configured service, secrets masked
GET      /api/config/{service}             one service, secrets masked, env-overridden keys
PUT      /api/config/{service}             set keys: a JSON object of strings
DELETE   /api/config/{service}             unset ``?key=`` (repeatable), or every key
=======  ================================  ===================================================
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.auth.account_names import check_account_name
from runtime.errors import ConfigurationError
from runtime.server.bodies import read_json
from runtime.server.context import CONTEXT
from runtime.server.errors import fail

if TYPE_CHECKING:
    from runtime.auth.app_config import AppConfigStore
    from runtime.auth.vault import TokenVault


def _vault(request: web.Request) -> TokenVault:
    vault = request.app[CONTEXT].vault
    assert vault is not None  # the routes exist only with a vault
    return vault


def _config(request: web.Request) -> AppConfigStore:
    config = request.app[CONTEXT].app_config
    assert config is not None  # the routes exist only with a configuration store
    return config


async def list_accounts(request: web.Request) -> web.Response:
    records = await _vault(request).accounts(request.query.get("service") or None)
    accounts: list[dict[str, Any]] = []
    for record in records:
        entry = dataclasses.asdict(record)
        entry["scopes"] = list(record.scopes)
        accounts.append(entry)
    return web.json_response({"accounts": accounts})


async def delete_account(request: web.Request) -> web.Response:
    service, name = request.match_info["service"], request.match_info["name"]
    if not await _vault(request).delete(service, name):
        try:  # a name that can be no account's is told apart from an unknown one
            check_account_name(name, field="name")
        except ConfigurationError as exc:
            raise fail(400, str(exc)) from None
        raise fail(404, f"{service} has no account {name!r}")
    await request.app[CONTEXT].credentials_changed()
    return web.json_response({"deleted": {"service": service, "name": name}})


async def _masked(config: AppConfigStore, service: str) -> dict[str, Any]:
    values = await config.get(service)
    return {
        "service": service,
        "values": config.masked(service, values),
        "fromEnvironment": config.overridden(service),
    }


async def list_config(request: web.Request) -> web.Response:
    config = _config(request)
    everything = await config.list()
    return web.json_response(
        {service: config.masked(service, values) for service, values in everything.items()}
    )


async def get_config(request: web.Request) -> web.Response:
    try:
        return web.json_response(await _masked(_config(request), request.match_info["service"]))
    except ConfigurationError as exc:
        raise fail(404, str(exc)) from None


async def set_config(request: web.Request) -> web.Response:
    service = request.match_info["service"]
    values = await read_json(request)
    if not isinstance(values, dict) or not values:
        raise fail(400, 'the body must be a JSON object of keys to set, e.g. {"clientId": "..."}')
    wrong = [key for key, value in values.items() if not isinstance(value, str)]
    if wrong:
        raise fail(400, f"values must be strings; not so for: {', '.join(wrong)}")
    config = _config(request)
    try:
        await config.set(service, values)
    except ConfigurationError as exc:
        raise fail(400, str(exc)) from None
    request.app[CONTEXT].logger.info("app configuration set", service=service, keys=sorted(values))
    await request.app[CONTEXT].credentials_changed()
    return web.json_response(await _masked(config, service))


async def unset_config(request: web.Request) -> web.Response:
    service = request.match_info["service"]
    keys = request.query.getall("key", [])
    config = _config(request)
    try:
        await config.unset(service, keys)
    except ConfigurationError as exc:
        raise fail(400, str(exc)) from None
    request.app[CONTEXT].logger.info("app configuration unset", service=service, keys=keys)
    await request.app[CONTEXT].credentials_changed()
    return web.json_response(await _masked(config, service))


def add_routes(app: web.Application) -> None:
    """Add the routes of the parts the server has (a vault, a configuration store)."""
    ctx = app[CONTEXT]
    router = app.router
    if ctx.vault is not None:
        router.add_get("/api/accounts", list_accounts)
        router.add_delete("/api/accounts/{service}/{name}", delete_account)
    if ctx.app_config is not None:
        router.add_get("/api/config", list_config)
        router.add_get("/api/config/{service}", get_config)
        router.add_put("/api/config/{service}", set_config)
        router.add_delete("/api/config/{service}", unset_config)
