"""Static checks of templates against JSON Schemas: what a flow would surely fail at run time.

Two questions, answered only where a schema is sure:

- :func:`transform_problems`: does a ``config.transform`` value fit its in-port's schema? Keys
  a closed object (``additionalProperties: false``) does not list, required keys the
  transform leaves out, and constants the schema refuses (type, enum, pattern...). A string
  that is one variable keeps its upstream value's type, unknown here, so it is not judged; a
  variable inside longer text always renders a string.
- :func:`missing_path`: can the path of a variable exist in what an out-port sends? Only a
  closed object, or a value whose schema gives it a type without keys, says it cannot.

A level of a schema that combines others (``$ref``, ``anyOf``, ``if``...) or names keys by
pattern is not second-guessed: its constants are validated whole, its templates not at all.
Each check walks the template once, so a flow's checks stay linear in its size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import ValidationError

from runtime.errors import Problem
from runtime.mapping import json_path, scan_template
from runtime.problems import did_you_mean, schema_problems

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

_DIGITS = re.compile(r"[0-9]+")
# keywords after which a level's own keys and types no longer tell the whole story
_COMBINING = frozenset(
    {
        "$ref",
        "$dynamicRef",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "patternProperties",
        "unevaluatedProperties",
        "prefixItems",
        "unevaluatedItems",
    }
)
_ARTICLES = {"array": "an array", "object": "an object", "integer": "an integer"}
MAX_FIELDS_LISTED = 20


@dataclass(frozen=True, slots=True)
class InPort:
    """An in-port's schema, with its validator (built once per component type) and a name
    for messages, such as ``the input of acme.pinterest.CreatePin (in-port "in")``."""

    schema: Any
    validator: Validator
    name: str


def transform_problems(port: InPort, value: Any, at: str) -> list[Problem]:
    """What ``value`` (a transform, at JSON path ``at``) surely gets wrong against ``port``."""
    problems: list[Problem] = []
    _check(port, port.schema, value, at, port.name, problems)
    return problems


def _check(port: InPort, schema: Any, value: Any, at: str, what: str, out: list[Problem]) -> bool:
    """Check ``value`` against ``schema`` (a part of ``port.schema``), adding to ``out``;
    whether ``value`` holds no variable (a constant)."""
    if isinstance(value, str) and "{{{" in value:
        variables, errors = scan_template(value, at)
        if errors:
            return False  # reported by the template checks
        if variables and isinstance(schema, dict) and variables[0].text != value:
            types = _types(schema)
            if types is not None and "string" not in types:
                out.append(
                    Problem(
                        at,
                        "renders as text (a variable inside a longer string), but must be"
                        f" {_kinds(types)}",
                    )
                )
        if variables:
            return False
    if not isinstance(schema, dict) or not isinstance(value, dict | list):
        if not isinstance(value, dict | list):
            _constant(port, schema, value, at, frozenset(), out)
            return True
        return _constant_if_so(port, schema, value, at, out)
    types = _types(schema)
    wanted = "object" if isinstance(value, dict) else "array"
    if types is not None and wanted not in types:
        out.append(Problem(at, f"must be {_kinds(types)}, not {_ARTICLES[wanted]}"))
        return _is_constant(value)
    if isinstance(value, dict):
        constant, handled = _check_object(port, schema, value, at, what, out)
    else:
        constant, handled = _check_array(port, schema, value, at, out)
    if constant:
        _constant(port, schema, value, at, handled, out)
    return constant


def _check_object(
    port: InPort,
    schema: dict[str, Any],
    value: dict[str, Any],
    at: str,
    what: str,
    out: list[Problem],
) -> tuple[bool, frozenset[str]]:
    handled = {"type"}
    declared = schema.get("properties")
    listed: dict[str, Any] = declared if isinstance(declared, dict) else {}
    extra = schema.get("additionalProperties")
    open_keys = "patternProperties" in schema or "unevaluatedProperties" in schema
    required = schema.get("required")
    if isinstance(required, list):
        handled.add("required")
        for key in required:
            if isinstance(key, str) and key not in value:
                out.append(Problem(json_path(at, key), f"is required by {what} but missing"))
    if not open_keys:
        handled.add("additionalProperties")
    handled.add("properties")
    constant = True
    for key, item in value.items():
        where = json_path(at, key)
        if key in listed:
            sub: Any = listed[key]
        elif open_keys:
            constant = _is_constant(item) and constant
            handled.discard("additionalProperties")
            continue
        elif extra is False:
            out.append(Problem(where, _unknown_key(key, listed, what)))
            constant = _is_constant(item) and constant
            continue
        elif isinstance(extra, dict):
            sub = extra
        else:
            constant = _is_constant(item) and constant
            continue
        constant = _check(port, sub, item, where, f"this object of {port.name}", out) and constant
    return constant, frozenset(handled)


def _check_array(
    port: InPort, schema: dict[str, Any], value: list[Any], at: str, out: list[Problem]
) -> tuple[bool, frozenset[str]]:
    items = schema.get("items")
    if "prefixItems" in schema or not isinstance(items, dict):
        return _is_constant(value), frozenset({"type"})
    constant = True
    for index, item in enumerate(value):
        item_at = json_path(at, index)
        constant = _check(port, items, item, item_at, f"this item of {port.name}", out) and constant
    return constant, frozenset({"type", "items"})


def _constant_if_so(port: InPort, schema: Any, value: Any, at: str, out: list[Problem]) -> bool:
    constant = _is_constant(value)
    if constant:
        _constant(port, schema, value, at, frozenset(), out)
    return constant


def _constant(
    port: InPort, schema: Any, value: Any, at: str, handled: frozenset[str], out: list[Problem]
) -> None:
    """Validate the constant ``value`` against ``schema`` (a part of ``port.schema``), leaving
    out what the keywords in ``handled`` of that level said (checked already, in other words)."""
    if schema is True or schema == {}:
        return
    # ``evolve`` keeps the whole schema's resolver, so a ``$ref`` inside the part still resolves
    validator = port.validator.evolve(schema=schema)

    def keep(error: ValidationError) -> bool:
        path = error.relative_schema_path
        return not (path and path[0] in handled)

    for problem in schema_problems(schema, value, at, validator=validator, keep=keep):
        out.append(
            Problem(problem.path, f"is a constant that {port.name} refuses: {problem.message}")
        )


def missing_path(schema: Any, path: tuple[str | int, ...], base: str) -> str | None:
    """Why ``path`` cannot exist in a value of ``schema`` (``base`` names the value, e.g.
    ``$.pin.out``), or ``None`` when it may, or when the schema cannot tell."""
    current = schema
    walked = base
    for key in path:
        if not isinstance(current, dict) or _COMBINING.intersection(current):
            return None
        name = str(key)
        by_number = isinstance(key, int) or bool(_DIGITS.fullmatch(name))
        types = _types(current)
        objects = types is None or "object" in types
        arrays = (types is None or "array" in types) and by_number
        if not objects and not arrays:
            if types and "array" in types:
                return (
                    f'{walked} is an array, whose items are read by number (like .0), not "{name}"'
                )
            return (
                f'{walked} is {_kinds(types) if types else "nothing"}, which has no field "{name}"'
            )
        if objects and arrays:
            return None  # which one it is decides what the key reads
        if arrays:
            current = current.get("items", True)
        else:
            listed = current.get("properties")
            listed = listed if isinstance(listed, dict) else {}
            extra = current.get("additionalProperties", True)
            if name in listed:
                current = listed[name]
            elif extra is False:
                hint = _closest(name, listed) or f"; {_fields(listed)}"
                return f'{walked} has no field "{name}"{hint}'
            else:
                current = extra
        walked = json_path(walked, key)
    return None


def _unknown_key(key: str, listed: dict[str, Any], what: str) -> str:
    hint = _closest(key, listed)
    message = f"is not a field of {what}"
    return f"{message}{hint}" if hint else f"{message}: {_fields(listed)}"


def _closest(key: str, names: dict[str, Any]) -> str:
    folded = [name for name in names if name.casefold() == key.casefold()]
    if folded:
        return f'; did you mean "{folded[0]}"?'
    return did_you_mean(key, names)


def _fields(listed: dict[str, Any]) -> str:
    if not listed:
        return "it has none"
    names = list(listed)
    shown = ", ".join(names[:MAX_FIELDS_LISTED])
    more = f" and {len(names) - MAX_FIELDS_LISTED} more" if len(names) > MAX_FIELDS_LISTED else ""
    return f"its fields are {shown}{more}"


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The types ``schema``'s ``type`` allows (``integer`` implied by ``number``), or ``None``."""
    given = schema.get("type")
    if isinstance(given, str):
        types = {given}
    elif isinstance(given, list) and all(isinstance(t, str) for t in given):
        types = set(given)
    else:
        return None
    if "number" in types:
        types.add("integer")
    return types


def _kinds(types: set[str]) -> str:
    named = sorted(
        types - {"integer"} if "number" in types else types, key=lambda t: (t == "null", t)
    )
    return " or ".join(_ARTICLES.get(t, f"a {t}" if t != "null" else "null") for t in named)


def _is_constant(value: Any) -> bool:
    if isinstance(value, str):
        return "{{{" not in value
    if isinstance(value, dict):
        return all(_is_constant(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_constant(v) for v in value)
    return True
