"""What ``flowmixer components NAME`` shows of one component: its card, as data and as text."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.manifest import ComponentManifest, Port
    from runtime.registry import Registry

INDENT = "    "
WIDTH = 100


def kind_of(manifest: ComponentManifest) -> str:
    """``action``, ``polling trigger``, ``webhook trigger`` or ``trigger``."""
    if manifest.tick is not None:
        return "polling trigger"
    if manifest.webhook:
        return "webhook trigger"
    return "trigger" if manifest.is_trigger else "action"


def fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level fields of an object schema: name, type, required, description, and the
    default and allowed values (``enum``) when the schema gives them."""
    required = set(schema.get("required", []))
    described = []
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        item: dict[str, Any] = {
            "name": name,
            "type": _type_of(spec),
            "required": name in required,
            "description": spec.get("description", spec.get("title", "")),
        }
        if "default" in spec:
            item["default"] = spec["default"]
        if isinstance(spec.get("enum"), list):
            item["enum"] = spec["enum"]
        described.append(item)
    return described


def card(registry: Registry, manifest: ComponentManifest) -> dict[str, Any]:
    """One component in full: what ``components NAME --json`` prints (schemas included)."""
    return {
        "name": manifest.name,
        "label": manifest.label,
        "description": manifest.description,
        "version": manifest.version,
        "kind": kind_of(manifest),
        "plugin": registry.plugin_of(manifest.name),
        "source": registry.source_of(manifest.name),
        "service": manifest.auth.service if manifest.auth else None,
        "scopes": list(manifest.auth.scopes) if manifest.auth else [],
        "quota": list(manifest.quota.resources) if manifest.quota else [],
        "tickInterval": manifest.tick.interval if manifest.tick else None,
        "timeout": manifest.timeout,
        "properties": fields(manifest.properties.schema_),
        "propertiesSchema": manifest.properties.schema_,
        "inPorts": [_port(p) for p in manifest.in_ports],
        "outPorts": [_port(p) for p in manifest.out_ports],
    }


def card_text(item: dict[str, Any]) -> str:
    """The card as text for a person: description, properties, ports and their fields."""
    lines = [f"{item['name']}  ({item['kind']}, version {item['version']})"]
    lines += textwrap.wrap(
        item["description"], WIDTH, initial_indent=INDENT, subsequent_indent=INDENT
    )
    if item["plugin"]:
        lines.append(f"{INDENT}plug-in     {item['plugin']}")
    if item["service"]:
        lines.append(f"{INDENT}service     {item['service']}")
        lines.append(f"{INDENT}scopes      {', '.join(item['scopes']) or '-'}")
        lines.append(f"{INDENT}quota       {', '.join(item['quota']) or '-'}")
    if item["tickInterval"] is not None:
        lines.append(f"{INDENT}polls every {item['tickInterval']:g} s")
    lines.append("")
    lines.append("properties (config.properties)")
    lines += _field_lines(item["properties"])
    for key, word in (("inPorts", "in-port"), ("outPorts", "out-port")):
        for port in item[key]:
            label = f" ({port['label']})" if port["label"] else ""
            lines.append("")
            lines.append(f"{word} {port['name']}{label}")
            lines += _field_lines(port["fields"])
    return "\n".join(lines) + "\n"


def _port(port: Port) -> dict[str, Any]:
    return {
        "name": port.name,
        "label": port.label,
        "fields": fields(port.schema_),
        "schema": port.schema_,
    }


def _type_of(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    if "enum" in spec:
        return "enum"
    return "any"


def _field_lines(items: list[dict[str, Any]]) -> list[str]:
    if not items:
        return [f"{INDENT}(none)"]
    lines = []
    for item in items:
        flag = ", required" if item["required"] else ""
        default = f", default {json.dumps(item['default'])}" if "default" in item else ""
        choices = item.get("enum")
        kind = "one of " + ", ".join(json.dumps(c) for c in choices) if choices else item["type"]
        head = f"{INDENT}{item['name']}: {kind}{flag}{default}"
        lines.append(head)
        if item["description"]:
            lines += textwrap.wrap(
                item["description"],
                WIDTH,
                initial_indent=INDENT * 2,
                subsequent_indent=INDENT * 2,
            )
    return lines
