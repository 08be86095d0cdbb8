"""``flowmixer auth login|list|logout``: connect service accounts, list them, disconnect them.

``login`` listens on 127.0.0.1 for the browser's return (RFC 8252), prints the authorize URL,
exchanges the code and keeps the tokens sealed in the store. The app's ``clientId`` and
``clientSecret`` come from ``flowmixer config``; the redirect URI
``http://127.0.0.1/auth/<service>/callback`` must be registered with the service (any port).
No token, code or client secret is printed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from runtime.auth.account_names import check_account_name
from runtime.auth.app_config import AppConfigStore
from runtime.auth.loopback import loopback_login
from runtime.auth.oauth2 import OAuth2Client
from runtime.auth.scopes import parse_scope_list, scopes_to_request
from runtime.auth.secretbox import SecretBox
from runtime.auth.states import LoginStates
from runtime.auth.vault import TokenVault, already_connected
from runtime.errors import ConfigurationError
from runtime.flow import load_flow
from runtime.registry import Registry
from runtime.stores.urls import opened_store

if TYPE_CHECKING:
    import argparse

    from runtime.manifest import ServiceManifest
    from runtime.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "auth",
        help="connect, list and disconnect service accounts (OAuth2)",
        description="Accounts of services such as Pinterest, their tokens kept encrypted in"
        " the store under $FLOWMIXER_HOME. Set the app's clientId and clientSecret first with"
        " `flowmixer config set`.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    login = actions.add_parser(
        "login",
        help="connect an account: open the printed URL in a browser and approve",
        description="Listen on 127.0.0.1 for the browser's return, print the authorize URL,"
        " and keep the account's tokens once approved. The scopes asked for are those the"
        " components of the flows given with --flow need; without --flow, those every"
        " component of the service needs except a raw API call's (MakeApiCall asks for its"
        " scopes only when a given flow uses it); --scopes names them instead (older names"
        " the service declares are mapped, e.g. Pinterest's read_public). The redirect URI"
        " http://127.0.0.1/auth/<service>/callback must be registered for the app.",
    )
    login.add_argument("service", metavar="SERVICE", help="e.g. pinterest or acme:pinterest")
    login.add_argument(
        "--account",
        help="name to keep the account under: 1 to 64 letters, digits, '-', '_' or '.'"
        " (default: its username at the service)",
    )
    login.add_argument(
        "--replace",
        action="store_true",
        help="replace the tokens of an account already connected under that name (without it,"
        " such a login is refused)",
    )
    asked = login.add_mutually_exclusive_group()
    asked.add_argument("--scopes", help="scopes to ask for, comma or space separated")
    asked.add_argument(
        "--flow",
        action="append",
        type=Path,
        metavar="FLOW.json",
        help="ask for what the components of this flow need; repeatable",
    )
    login.add_argument(
        "--port", type=int, default=0, help="port of the callback listener (default: any free)"
    )
    login.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the browser (600)"
    )
    login.set_defaults(handler=cmd_login)

    listing = actions.add_parser("list", help="the connected accounts and their status")
    listing.add_argument("--json", action="store_true", help="print one JSON object per line")
    listing.set_defaults(handler=cmd_list)

    logout = actions.add_parser(
        "logout", help="revoke an account's tokens where the service allows, and forget them"
    )
    logout.add_argument("account", metavar="NAME")
    logout.add_argument("--service", help="the account's service, when several have NAME")
    logout.set_defaults(handler=cmd_logout)


def service_named(registry: Registry, name: str) -> ServiceManifest:
    """The service called ``name``: its full name (``acme:pinterest``) or, when only one
    vendor has it, its short one (``pinterest``)."""
    services = registry.services()
    if name in services:
        return services[name]
    matches = [s for key, s in services.items() if name == key.split(":", 1)[-1]]
    if len(matches) != 1:
        known = ", ".join(sorted(services)) or "none"
        several = " (several vendors have it: give the full name)" if matches else ""
        raise ConfigurationError(
            f"there is no service {name!r}{several}; the services are: {known}"
        )
    return matches[0]


def find_service(registry: Registry, name: str) -> ServiceManifest:
    """The service called ``name`` (see :func:`service_named`) that connects accounts."""
    service = service_named(registry, name)
    if service.oauth2 is None:
        raise ConfigurationError(f"{service.service} does not connect accounts with OAuth2")
    return service


def _announce(url: str) -> None:
    print("Open this address in a browser and approve the access:", file=sys.stderr)
    print(url, flush=True)


def _scopes(
    args: argparse.Namespace, registry: Registry, service: ServiceManifest
) -> tuple[str, ...]:
    if args.scopes is not None:
        return scopes_to_request(service, (), parse_scope_list(args.scopes))
    if not args.flow:
        return scopes_to_request(service, registry.components())
    used = [
        node.manifest
        for path in args.flow
        for node in load_flow(path, registry).nodes.values()
        if node.manifest.auth is not None and node.manifest.auth.service == service.service
    ]
    if not used:
        flows = ", ".join(str(path) for path in args.flow)
        raise ConfigurationError(
            f"no component of {flows} uses {service.service}: there is nothing to log in for"
        )
    return scopes_to_request(service, used, in_flows=True)


def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    registry = Registry.load()
    service = find_service(registry, args.service)
    if args.account is not None:
        check_account_name(args.account, field="--account")
    scopes = _scopes(args, registry, service)

    async def main() -> str:
        box = SecretBox.from_settings(settings)
        async with opened_store(settings.database) as store:
            vault = TokenVault(store, box)
            known = args.account and await vault.account(service.service, args.account)
            if known and not args.replace:
                raise ConfigurationError(already_connected(service.service, args.account))
            config = AppConfigStore(store, box, registry.services())
            app = await config.require(service.service, ["clientId", "clientSecret"])
            async with aiohttp.ClientSession() as session:
                hooks = registry.oauth2_hooks(service.service)
                client = OAuth2Client(service, app, session, hooks)
                result = await loopback_login(
                    client,
                    LoginStates(store),
                    vault,
                    scopes=scopes,
                    announce=_announce,
                    account=args.account,
                    replace=args.replace,
                    port=args.port,
                    timeout=args.timeout,
                )
        return f"Connected {result.service} account {result.account} ({', '.join(result.scopes)})"

    settings.ensure_home()
    print(asyncio.run(main()), flush=True)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> None:
        box = SecretBox.from_settings(settings)
        async with opened_store(settings.database) as store:
            for record in await TokenVault(store, box).accounts():
                row = {
                    "service": record.service,
                    "account": record.name,
                    "status": record.status,
                    "scopes": list(record.scopes),
                    "expiresAt": record.expires_at,
                    "reason": record.reason,
                }
                if args.json:
                    print(json.dumps(row))
                    continue
                expires = (
                    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.expires_at))
                    if record.expires_at
                    else "-"
                )
                why = f" ({record.reason})" if record.reason else ""
                print(
                    f"{record.service}  {record.name}  {record.status}{why}  expires {expires}"
                    f"  scopes {','.join(record.scopes)}"
                )

    settings.ensure_home()
    asyncio.run(main())
    return 0


def cmd_logout(args: argparse.Namespace, settings: Settings) -> int:
    registry = Registry.load()

    async def main() -> str:
        box = SecretBox.from_settings(settings)
        async with opened_store(settings.database) as store:
            vault = TokenVault(store, box)
            found = [
                r
                for r in await vault.accounts()
                if r.name == args.account
                and (
                    args.service is None
                    or find_service(registry, args.service).service == r.service
                )
            ]
            if not found:
                raise ConfigurationError(f"there is no connected account {args.account!r}")
            if len(found) > 1:
                services = ", ".join(r.service for r in found)
                raise ConfigurationError(
                    f"several services have an account {args.account!r} ({services});"
                    " name one with --service"
                )
            service = registry.services()[found[0].service]
            tokens = await vault.load(service.service, args.account)
            revoked = "not revoked (the service has no revoke endpoint)"
            app = await AppConfigStore(store, box, registry.services()).get(service.service)
            if tokens is not None and service.oauth2 and service.oauth2.revoke_url:
                if not (app.get("clientId") and app.get("clientSecret")):
                    revoked = "not revoked (no clientId/clientSecret configured)"
                else:
                    async with aiohttp.ClientSession() as session:
                        hooks = registry.oauth2_hooks(service.service)
                        client = OAuth2Client(service, app, session, hooks)
                        done = [
                            await client.revoke(token)
                            for token in (tokens.refresh_token, tokens.access_token)
                            if token
                        ]
                    revoked = "revoked" if all(done) else "the service refused to revoke it"
            await vault.delete(service.service, args.account)
            return f"Disconnected {service.service} account {args.account}: tokens {revoked}"

    settings.ensure_home()
    print(asyncio.run(main()))
    return 0
