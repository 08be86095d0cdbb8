"""``flowmixer call``: run one component once and print what it sends.

The component runs inside a two-component flow (a webhook feeding its in-port), so the same
validation, mapping and error handling apply as in any flow. A polling trigger runs one tick
(its first tick records a baseline and sends nothing unless its ``emitExisting`` is set).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
from typing import TYPE_CHECKING, Any

from runtime import json_limits
from runtime.auth.credentials import SeveralAccountsError
from runtime.auth.resolution import local_credentials, local_quotas
from runtime.cli.loading import load_registry
from runtime.engine import Engine, Output
from runtime.errors import ConfigurationError, FlowValidationError, Problem
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from runtime.stores.urls import opened_store

if TYPE_CHECKING:
    from runtime.credentials import Credentials, CredentialsResolver
    from runtime.manifest import ComponentManifest
    from runtime.settings import Settings

FLOW_ID = "call"
INPUT_ID = "input"
TARGET_ID = "component"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call = commands.add_parser(
        "call",
        help="run one component once and print what it sends",
        description="Run one component once against the configured API and print each"
        " message it sends as a JSON line ({port, payload}). A component that calls a service"
        " uses its connected account (flowmixer auth login SERVICE), else the service's token"
        " variable (PINTEREST_ACCESS_TOKEN for acme:pinterest), calling the API base of"
        " PINTEREST_API_BASE, else of the app configuration's apiBase. Exit 1 when"
        " the call fails, with the reason.",
    )
    call.add_argument("component", help="component name, e.g. acme.pinterest.GetBoard or GetBoard")
    call.add_argument("--props", type=_json_object, default={}, help="properties as JSON")
    call.add_argument("--input", type=_json_value, default={}, help="the input message as JSON")
    call.add_argument("--port", help="the in-port to send the input to (if it has several)")
    call.add_argument(
        "--account",
        help="the connected account to call with (see `flowmixer auth list`); default: the"
        " service's only connected account, else the service's token variable",
    )
    call.set_defaults(handler=cmd_call)


def _json_value(text: str) -> Any:
    try:
        return json_limits.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not JSON: {exc.msg} at column {exc.colno}: {text[:200]}"
        ) from None
    except json_limits.JSONLimitError as exc:
        raise argparse.ArgumentTypeError(f"refused: {exc}") from None


def _json_object(text: str) -> dict[str, Any]:
    value = _json_value(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, not {text}")
    return value


def find_component(registry: Registry, name: str) -> ComponentManifest:
    """A component by full name, or by its last part when that is unambiguous."""
    manifest = registry.find(name)
    if manifest is not None:
        return manifest
    matches = [m for m in registry.components() if m.name.rsplit(".", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(m.name for m in matches)
        raise ConfigurationError(f"{name!r} is ambiguous: {names}")
    short = {m.name.rsplit(".", 1)[-1]: m.name for m in registry.components()}
    close = difflib.get_close_matches(name, short, n=1, cutoff=0.6)
    if close:
        raise ConfigurationError(f'unknown component "{name}"; did you mean "{short[close[0]]}"?')
    return registry.get(name)  # raises, suggesting from the full names


def call_flow(manifest: ComponentManifest, props: dict[str, Any], port: str | None) -> Any:
    """The flow that runs ``manifest`` once: a webhook feeds an action's in-port; a webhook
    trigger gets the input pushed into it; a polling trigger ticks once."""
    target: dict[str, Any] = {"type": manifest.name, "config": {"properties": props}}
    components: dict[str, Any] = {TARGET_ID: target}
    if manifest.in_ports:
        names = [p.name for p in manifest.in_ports]
        chosen = port or (names[0] if len(names) == 1 else None)
        if chosen is None:
            raise ConfigurationError(
                f"{manifest.name} has several in-ports ({', '.join(names)}); choose one with --port"
            )
        components[INPUT_ID] = {"type": "flowmixer.core.Webhook"}
        target["source"] = {chosen: {INPUT_ID: ["out"]}}
    return {"id": FLOW_ID, "retry": {"maxAttempts": 1}, "components": components}


def cmd_call(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry()
    manifest = find_component(registry, args.component)
    try:
        plan = validate_flow(call_flow(manifest, args.props, args.port), registry)
    except FlowValidationError as exc:
        # Speak of --props, not of the two-component flow built around the component.
        prefix = f"$.components.{TARGET_ID}.config.properties"
        problems = [
            Problem(p.path.replace(prefix, "$", 1), p.message)
            for p in exc.problems
            if p.path.startswith(prefix)
        ] or exc.problems
        raise FlowValidationError(f"--props for {manifest.name}", problems) from None
    return asyncio.run(_call(plan, manifest, args.input, settings, registry, args.account))


def _print(output: Output) -> None:
    line = {"port": output.port, "payload": output.payload}
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _call(
    plan: Any,
    manifest: ComponentManifest,
    message: Any,
    settings: Settings,
    registry: Registry,
    account: str | None,
) -> int:
    store = MemoryStore()  # one call keeps no state; accounts live in the home's database
    settings.ensure_home()
    async with (
        opened_store(settings.database) as accounts,
        local_credentials(settings, registry, accounts, account=account) as credentials,
        local_quotas(settings, registry, accounts) as quotas,
        Engine(
            store,
            on_output=_print,
            credentials=_only(credentials_for(manifest, credentials, account)),
            quotas=quotas,
        ) as engine,
    ):
        await engine.start_flow(plan)
        if manifest.in_ports:
            await engine.push(FLOW_ID, INPUT_ID, message)
        elif manifest.webhook:
            await engine.push(FLOW_ID, TARGET_ID, message)
        elif manifest.tick is not None:  # the first tick runs as the flow starts
            while engine.stats(FLOW_ID)[TARGET_ID].ticks == 0:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)
        await engine.wait_idle(FLOW_ID)
        # A refused token parks the message for a re-authorization no one will make here.
        refused = engine.pause_reason(FLOW_ID) if engine.parked(FLOW_ID) else None
        await engine.stop_flow(FLOW_ID)
    if refused is not None:
        reason = refused.partition(REAUTHORIZE)[2] or refused
        print(f"flowmixer: {manifest.name} failed: {reason}", file=sys.stderr)
        return 1
    letters = await store.list_dead_letters()
    for letter in letters:
        print(f"flowmixer: {manifest.name} failed: {letter.error}", file=sys.stderr)
    return 1 if letters else 0


# How a paused flow's reason begins (runtime.flow_runner); what follows is the handler's error.
REAUTHORIZE = "needs its account re-authorized: "


def credentials_for(
    manifest: ComponentManifest, resolver: CredentialsResolver, account: str | None
) -> Credentials | None:
    """The credentials ``manifest`` calls with; :class:`ConfigurationError` speaking of the
    component and ``--account`` (not of a flow) when there are none."""
    if manifest.auth is None:
        return None
    service = manifest.auth.service
    try:
        found = resolver(manifest)
    except SeveralAccountsError as exc:
        raise ConfigurationError(
            f"{manifest.name} calls {service}, which has several accounts"
            f" ({', '.join(exc.names)}); choose one with --account {exc.names[0]}"
        ) from None
    except ConfigurationError as exc:
        raise ConfigurationError(f"{manifest.name} calls {service}, and {exc}") from None
    if found is None:  # --account names an account of another service
        raise ConfigurationError(
            f"{manifest.name} calls {service}, and --account {account} is not an account of"
            f" {service}; see `flowmixer auth list`"
        )
    return found


def _only(credentials: Credentials | None) -> CredentialsResolver:
    """A resolver that gives every component calling a service ``credentials``."""

    def resolve(manifest: ComponentManifest, account: str | None = None, /) -> Credentials | None:
        return credentials if manifest.auth is not None else None

    return resolve
