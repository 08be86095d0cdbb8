"""``flowmixer config set|get|list|unset|rotate-key``: each service's app configuration.

Secret values (the service manifest's ``secretKeys``) are sealed in the store and shown masked;
none is ever printed. ``FLOWMIXER_<SERVICE>_<KEY>`` variables override stored values. A
service is named in full (``acme:pinterest``) or by its short name (``pinterest``), as in
``flowmixer auth``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from typing import TYPE_CHECKING

from runtime.auth.app_config import AppConfigStore, env_var
from runtime.auth.secretbox import SecretBox
from runtime.auth.vault import TokenVault
from runtime.cli.auth import service_named
from runtime.errors import ConfigurationError
from runtime.registry import Registry
from runtime.stores.urls import opened_store

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable
    from typing import TypeVar

    from runtime.settings import Settings

    T = TypeVar("T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "config",
        help="set, show or remove a service's app configuration (client id, secret...)",
        description="The app configuration of each service (e.g. acme:pinterest clientId and"
        " clientSecret), kept in the store under $FLOWMIXER_HOME with secret values encrypted."
        " A variable FLOWMIXER_<SERVICE>_<KEY> (FLOWMIXER_PINTEREST_CLIENT_SECRET) overrides"
        " the stored value.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    setting = actions.add_parser(
        "set",
        help="store values: SERVICE key=value ...",
        description="Store values for SERVICE. A KEY given without '=value' is asked for"
        " without echo (or read as one line from standard input when it is not a terminal),"
        " which keeps a secret out of the shell history.",
    )
    setting.add_argument("service", metavar="SERVICE", help="e.g. pinterest or acme:pinterest")
    setting.add_argument("pairs", nargs="+", metavar="KEY[=VALUE]")
    setting.set_defaults(handler=cmd_set)

    getting = actions.add_parser("get", help="show one service's configuration, secrets masked")
    getting.add_argument("service", metavar="SERVICE")
    getting.add_argument("--json", action="store_true", help="print one JSON object")
    getting.set_defaults(handler=cmd_get)

    listing = actions.add_parser("list", help="every configured service, secrets masked")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=cmd_list)

    unsetting = actions.add_parser("unset", help="remove some keys, or all of a service's")
    unsetting.add_argument("service", metavar="SERVICE")
    unsetting.add_argument("keys", nargs="*", metavar="KEY")
    unsetting.set_defaults(handler=cmd_unset)

    rotating = actions.add_parser(
        "rotate-key",
        help="encrypt every stored secret again with the first key of FLOWMIXER_SECRET_KEY",
        description="After putting a new key first in FLOWMIXER_SECRET_KEY (the old ones after"
        " it), seal every stored secret (app configuration and account tokens) with the new"
        " key; then the old keys can be removed. See docs/security.md.",
    )
    rotating.set_defaults(handler=cmd_rotate_key)


def _run(settings: Settings, work: Callable[[AppConfigStore, TokenVault], Awaitable[T]]) -> T:
    async def main() -> T:
        box = SecretBox.from_settings(settings)
        async with opened_store(settings.database) as store:
            config = AppConfigStore(store, box, Registry.load().services())
            return await work(config, TokenVault(store, box))

    settings.ensure_home()
    return asyncio.run(main())


def _ask(service: str, key: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{service} {key}: ")
    return sys.stdin.readline().rstrip("\r\n")


def _pairs(service: str, pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not key:
            # The argument is not quoted: what follows '=' may be a secret.
            raise ConfigurationError("an argument has nothing before '='; write KEY=VALUE")
        values[key] = value if sep else _ask(service, key)
    return values


def _full_name(args: argparse.Namespace) -> None:
    """Turn a short service name (``pinterest``) into the full one, before anything is asked."""
    args.service = service_named(Registry.load(), args.service).service


def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    _full_name(args)
    keys = [pair.partition("=")[0].strip() for pair in args.pairs]

    async def work(config: AppConfigStore, _: TokenVault) -> None:
        config.check(args.service, keys)  # before any value is asked for
        await config.set(args.service, _pairs(args.service, args.pairs))

    _run(settings, work)
    print(f"{args.service}: set {', '.join(keys)}")
    return 0


def cmd_get(args: argparse.Namespace, settings: Settings) -> int:
    _full_name(args)

    async def work(config: AppConfigStore, _: TokenVault) -> tuple[dict[str, str], list[str]]:
        values = await config.get(args.service)
        return config.masked(args.service, values), config.overridden(args.service)

    shown, overridden = _run(settings, work)
    if args.json:
        print(json.dumps(shown, sort_keys=True))
        return 0
    manifest = Registry.load().service(args.service)
    keys = list(manifest.config_keys) if manifest is not None else sorted(shown)
    for key in keys:
        value = shown.get(key, "(not set)")
        origin = f"  (from {env_var(args.service, key)})" if key in overridden else ""
        print(f"{key} = {value}{origin}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(config: AppConfigStore, _: TokenVault) -> dict[str, dict[str, str]]:
        every = await config.list()
        return {service: config.masked(service, values) for service, values in every.items()}

    shown = _run(settings, work)
    if args.json:
        print(json.dumps(shown, sort_keys=True))
        return 0
    if not shown:
        print("no service is configured")
    for service, values in shown.items():
        print(f"{service}  " + " ".join(f"{key}={value}" for key, value in values.items()))
    return 0


def cmd_unset(args: argparse.Namespace, settings: Settings) -> int:
    _full_name(args)

    async def work(config: AppConfigStore, _: TokenVault) -> None:
        await config.unset(args.service, args.keys)

    _run(settings, work)
    print(f"{args.service}: removed {', '.join(args.keys) if args.keys else 'every key'}")
    return 0


def cmd_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    async def work(config: AppConfigStore, vault: TokenVault) -> tuple[int, int]:
        return await config.reseal(), await vault.reseal()

    values, accounts = _run(settings, work)
    print(
        f"sealed again with the first key: {values} secret value(s), {accounts} account(s);"
        " older keys can now be removed from FLOWMIXER_SECRET_KEY"
    )
    return 0
