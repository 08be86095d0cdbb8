"""``flowmixer validate``, ``components`` and ``graph``: look at flows and components."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.cli.call import find_component
from runtime.cli.component_card import card, card_text, kind_of
from runtime.cli.loading import load_registry
from runtime.errors import FlowValidationError
from runtime.flow import load_flow
from runtime.graph import to_mermaid

if TYPE_CHECKING:
    import argparse

    from runtime.manifest import ComponentManifest
    from runtime.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = commands.add_parser(
        "validate",
        help="check flow files; list every problem",
        description="Check flow files against the installed components; exit 1 if any is"
        " invalid, listing every problem with its JSON path.",
    )
    validate.add_argument("flows", nargs="+", type=Path, metavar="FLOW.json")
    validate.set_defaults(handler=cmd_validate)

    components = commands.add_parser(
        "components",
        help="list the installed components, or show one",
        description="List every installed component (built in or from a plug-in) with its"
        " ports, properties and scopes; with NAME, show that component: its description,"
        " properties, each in-port's input fields, each out-port's fields, scopes and quota"
        " category. NAME may be the last part alone (GetBoard) when no other component ends"
        " so. Plug-ins left out because they are broken are named on standard error.",
    )
    components.add_argument(
        "name", nargs="?", metavar="NAME", help="a component to show (e.g. acme.pinterest.GetBoard)"
    )
    components.add_argument(
        "--json", action="store_true", help="print JSON instead of text (with NAME: the schemas)"
    )
    components.set_defaults(handler=cmd_components)

    graph = commands.add_parser(
        "graph",
        help="print a flow's wiring as Mermaid text",
        description="Print a flow's wiring as a Mermaid flowchart (paste it into any Mermaid"
        " viewer).",
    )
    graph.add_argument("flow", type=Path, metavar="FLOW.json")
    graph.set_defaults(handler=cmd_graph)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry()
    failed = 0
    for path in args.flows:
        try:
            plan = load_flow(path, registry, max_components=settings.max_components)
        except FlowValidationError as exc:
            failed += 1
            print(str(exc))
            continue
        print(f"{path}: ok (flow {plan.id!r}, {len(plan.nodes)} components)")
    return 1 if failed else 0


def cmd_graph(args: argparse.Namespace, settings: Settings) -> int:
    plan = load_flow(args.flow, load_registry())
    sys.stdout.write(to_mermaid(plan))
    return 0


def cmd_components(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry()
    if args.name is not None:
        item = card(registry, find_component(registry, args.name))
        sys.stdout.write(json.dumps(item, indent=2) + "\n" if args.json else card_text(item))
        return 0
    described = [describe(m) for m in registry.components()]
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    for item in described:
        print(_as_text(item))
    return 0


def describe(manifest: ComponentManifest) -> dict[str, Any]:
    """A component as plain data: what ``components --json`` prints."""
    schema = manifest.properties.schema_
    required = set(schema.get("required", []))
    kind = kind_of(manifest)
    return {
        "name": manifest.name,
        "label": manifest.label,
        "description": manifest.description,
        "version": manifest.version,
        "kind": kind,
        "inPorts": [p.name for p in manifest.in_ports],
        "outPorts": [p.name for p in manifest.out_ports],
        "properties": {
            name: {
                "type": spec.get("type", "any"),
                "required": name in required,
                "description": spec.get("description", spec.get("title", "")),
            }
            for name, spec in schema.get("properties", {}).items()
        },
        "service": manifest.auth.service if manifest.auth else None,
        "scopes": list(manifest.auth.scopes) if manifest.auth else [],
        "quota": list(manifest.quota.resources) if manifest.quota else [],
        "tickInterval": manifest.tick.interval if manifest.tick else None,
    }


def _as_text(item: dict[str, Any]) -> str:
    lines = [f"{item['name']}  ({item['kind']})", f"    {item['description']}"]
    ports = f"in: {', '.join(item['inPorts']) or '-'}   out: {', '.join(item['outPorts']) or '-'}"
    lines.append(f"    ports       {ports}")
    for name, spec in item["properties"].items():
        kind = spec["type"] if isinstance(spec["type"], str) else "|".join(spec["type"])
        flag = " (required)" if spec["required"] else ""
        lines.append(f"    property    {name}: {kind}{flag}  {spec['description']}".rstrip())
    if item["service"]:
        lines.append(f"    auth        {item['service']}  scopes: {', '.join(item['scopes'])}")
    return "\n".join(lines) + "\n"
