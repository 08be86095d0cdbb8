"""OpenAPI 3.0 schema objects as JSON Schema 2020-12, for validation with jsonschema.

* ``nullable: true`` adds ``null`` to a plain ``type`` (keeping its own error messages), or
  becomes ``anyOf: [{type: null}, <schema>]`` around combined schemas;
* ``discriminator.mapping`` is honoured: the mapped schema must hold when the property has that
  value (``if``/``then``), in addition to any ``oneOf``/``anyOf`` beside it;
* ``exclusiveMinimum: true`` (draft 4 style) becomes the numeric form; ``readOnly`` is ignored;
* ``format`` is checked for ``date-time`` (ISO 8601, offset optional, as the API writes it) and
  ``date``; other formats are not checked.

``$ref``s to ``#/components/...`` point into one registry resource named :data:`URI`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jsonschema import FormatChecker

URI = "urn:pinterest-openapi"
_SCHEMA_REF = "#/components/schemas/"
_DROPPED = {"nullable", "discriminator", "example", "examples", "xml", "externalDocs", "deprecated"}
_SINGLE = ("items", "not", "additionalProperties", "if", "then", "else")
_MANY = ("allOf", "anyOf", "oneOf")


def formats() -> FormatChecker:
    """Checks of the formats the API uses in answers: ``date-time`` and ``date``."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if isinstance(value, str):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("date", raises=ValueError)
    def is_date(value: object) -> bool:
        if isinstance(value, str):
            date.fromisoformat(value)
        return True

    return checker


class Converter:
    """OpenAPI 3.0 schema objects to JSON Schema 2020-12 (refs point into one registry)."""

    def __init__(self, raw_schemas: Mapping[str, Any]) -> None:
        self._raw = raw_schemas

    def convert(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "$ref":
                out[key] = URI + value if value.startswith("#/") else value
            elif key == "properties":
                out[key] = {name: self.convert(sub) for name, sub in value.items()}
            elif key in _SINGLE or key in _MANY:
                out[key] = self.convert(value)
            else:
                out[key] = value
        if node.get("exclusiveMinimum") is True and "minimum" in node:
            out["exclusiveMinimum"] = out.pop("minimum")
        elif isinstance(node.get("exclusiveMinimum"), bool):
            out.pop("exclusiveMinimum")
        if node.get("exclusiveMaximum") is True and "maximum" in node:
            out["exclusiveMaximum"] = out.pop("maximum")
        elif isinstance(node.get("exclusiveMaximum"), bool):
            out.pop("exclusiveMaximum")
        rules = self._discriminator_rules(node)
        if rules:
            out["allOf"] = [*out.get("allOf", []), *rules]
        if node.get("nullable") is True:
            return _nullable(out)
        return out

    def _discriminator_rules(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        discriminator = node.get("discriminator") or {}
        prop = discriminator.get("propertyName")
        rules = []
        for value, target in (discriminator.get("mapping") or {}).items():
            # A mapped schema that includes its parent (allOf: [parent]) would recurse forever.
            if self._includes(target, node):
                continue
            rules.append(
                {
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": {"$ref": URI + target},
                }
            )
        return rules

    def _includes(self, target: str, node: dict[str, Any]) -> bool:
        name = target.removeprefix(_SCHEMA_REF)
        raw = json.dumps(self._raw.get(name, {}))
        parents = [n for n, s in self._raw.items() if s is node]
        return any(f'"{_SCHEMA_REF}{p}"' in raw for p in parents)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts null; a plain typed schema keeps its own error messages."""
    combined = any(k in schema for k in ("$ref", "allOf", "anyOf", "oneOf", "not"))
    if isinstance(schema.get("type"), str) and not combined:
        nullable = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            nullable["enum"] = [*schema["enum"], None]
        return nullable
    return {"anyOf": [{"type": "null"}, schema]}
