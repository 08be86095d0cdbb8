"""What validating against a JSON Schema may cost, checked before the schema is accepted.

A schema is data a flow brings, and a small one can be very expensive: 18 levels of
``anyOf`` of two ``$ref``s make every event try 2^18 subschemas; ``{"pattern": "^(a+)+$"}``
backtracks for seconds on a 30-character string. :func:`schema_cost_problems` refuses, each at
its JSON path:

- **depth**: subschemas nested more than ``max_depth`` deep;
- **size**: more than ``max_nodes`` subschemas in all;
- **expansion**: more than ``max_expansion`` subschema evaluations for one value of the
  payload, at its worst. ``anyOf``/``oneOf``/``allOf``/``not``/``if``/``$ref``... apply to the
  value itself, so their counts add up, and multiply level after level; counted level by level
  of the payload's depth (up to ``max_levels``), never by expanding the schema, so recursion
  through ``$ref`` costs nothing to count. A ``$ref`` cycle that never descends into the value
  would never end, and is refused too;
- **patterns**: ``pattern``s and ``patternProperties`` keys that can backtrack catastrophically
  (see :mod:`runtime.regex_cost`);
- **uniqueItems** over items that may be objects or arrays (compared pair by pair) without a
  ``maxItems`` of at most ``max_unique_items``.

With these, validating one payload evaluates at most (values in the payload) times ``max_expansion``
subschemas, each costing time about linear in its value (patterns cannot backtrack; ``format``
checks are linear; ``uniqueItems`` sorts, or compares at most ``max_unique_items`` squared
pairs), and the payload itself is bounded by the server's 1 MiB body limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from runtime.errors import Problem
from runtime.mapping import json_path
from runtime.regex_cost import backtracking_risk

# keywords whose subschemas apply to the value itself
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_LIST = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAP = ("dependentSchemas", "dependencies")
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")
# keywords whose subschemas apply to a property or an item of the value
_PROPERTY_ONE = ("additionalProperties", "unevaluatedProperties", "propertyNames")
_ITEM_ONE = ("additionalItems", "unevaluatedItems", "contains")
_SORTABLE = ("string", "number", "integer", "boolean")
# keywords that only hold subschemas for references
_HOLDERS = ("$defs", "definitions")


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """How expensive an accepted schema may be."""

    max_depth: int = 32
    max_nodes: int = 2000
    max_expansion: int = 1000
    max_levels: int = 64
    max_unique_items: int = 1000


DEFAULT_LIMITS = SchemaLimits()


@dataclass(slots=True)
class _Node:
    schema: dict[str, Any]
    path: str
    in_place: list[int]  # ids of subschemas applied to the same value
    properties: list[int]  # one of these applies to a given property (properties, prefixItems)
    every_property: list[int]  # each of these may apply to a given property
    items: list[int]
    every_item: list[int]


def schema_cost_problems(
    schema: Any, root: str = "$", limits: SchemaLimits = DEFAULT_LIMITS
) -> list[Problem]:
    """Every reason ``schema`` is too expensive to validate against, each at its JSON path."""
    walker = _Walker(schema, root, limits)
    walker.walk(schema, root, 0)
    if walker.problems:
        return walker.problems
    walker.link()
    if not walker.problems:
        walker.expansion()
    return walker.problems


class _Walker:
    def __init__(self, document: Any, root: str, limits: SchemaLimits) -> None:
        self.document = document
        self.root = root
        self.limits = limits
        self.problems: list[Problem] = []
        self.nodes: dict[int, _Node] = {}
        self.anchors: dict[str, dict[str, Any]] = {}
        self.refs: dict[int, list[str]] = {}  # node -> its references
        self.full = False

    def report(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # -- the tree, once ----------------------------------------------------------------

    def walk(self, schema: Any, path: str, depth: int) -> None:
        if not isinstance(schema, dict):
            return  # true, false or not a schema (the schema check reports that)
        if depth > self.limits.max_depth:
            self.report(path, f"is nested too deep: at most {self.limits.max_depth} levels")
            return
        if id(schema) in self.nodes:
            return
        if len(self.nodes) >= self.limits.max_nodes:
            if not self.full:
                self.full = True
                self.report(self.root, f"has too many subschemas: at most {self.limits.max_nodes}")
            return
        node = _Node(schema, path, [], [], [], [], [])
        self.nodes[id(schema)] = node
        anchor = schema.get("$anchor")
        if isinstance(anchor, str):
            self.anchors[anchor] = schema
        self.check_patterns(schema, path)
        self.check_unique_items(schema, path)
        for key in _REFS:
            if isinstance(schema.get(key), str):
                self.refs.setdefault(id(schema), []).append(schema[key])

        def sub(key: str, value: Any, into: list[int] | None, *where: str | int) -> None:
            at = json_path(path, key, *where)
            if isinstance(value, dict) and into is not None:
                into.append(id(value))
            self.walk(value, at, depth + 1)

        for key in _IN_PLACE_ONE:
            sub(key, schema.get(key), node.in_place)
        for key in _IN_PLACE_LIST:
            for index, value in enumerate(_list(schema.get(key))):
                sub(key, value, node.in_place, index)
        for key in _IN_PLACE_MAP:
            for name, value in _map(schema.get(key)).items():
                sub(key, value, node.in_place, name)
        for name, value in _map(schema.get("properties")).items():
            sub("properties", value, node.properties, name)
        for name, value in _map(schema.get("patternProperties")).items():
            sub("patternProperties", value, node.every_property, name)
        for key in _PROPERTY_ONE:
            sub(key, schema.get(key), node.every_property)
        items = schema.get("items")
        for index, value in enumerate(_list(schema.get("prefixItems")) + _list(items)):
            sub("prefixItems" if "prefixItems" in schema else "items", value, node.items, index)
        sub("items", items if isinstance(items, dict) else None, node.every_item)
        for key in _ITEM_ONE:
            sub(key, schema.get(key), node.every_item)
        for key in _HOLDERS:
            for name, value in _map(schema.get(key)).items():
                sub(key, value, None, name)

    def check_unique_items(self, schema: dict[str, Any], path: str) -> None:
        """``uniqueItems`` compares every pair of items that cannot be sorted (objects)."""
        if schema.get("uniqueItems") is not True:
            return
        items = schema.get("items")
        if isinstance(items, dict) and items.get("type") in _SORTABLE:
            return
        bound = schema.get("maxItems")
        limit = self.limits.max_unique_items
        if not isinstance(bound, int) or isinstance(bound, bool) or bound > limit:
            self.report(
                f"{path}.uniqueItems",
                "compares every pair of items when they are objects or arrays, which takes"
                f" too long for long arrays: give maxItems (at most {limit}) with it, or items"
                ' of a plain "type" (string, number, integer, boolean)',
            )

    def check_patterns(self, schema: dict[str, Any], path: str) -> None:
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            risk = backtracking_risk(pattern)
            if risk is not None:
                self.report(f"{path}.pattern", f"the pattern {_quote(pattern)} {risk}")
        for key in _map(schema.get("patternProperties")):
            risk = backtracking_risk(key)
            if risk is not None:
                where = json_path(f"{path}.patternProperties", key)
                self.report(where, f"the pattern {_quote(key)} {risk}")

    # -- references ----------------------------------------------------------------------

    def link(self) -> None:
        """Add each ``$ref`` it can resolve in the document as a subschema applied in place."""
        for owner, refs in self.refs.items():
            for ref in refs:
                target = self.resolve(ref)
                if isinstance(target, dict) and id(target) in self.nodes:
                    self.nodes[owner].in_place.append(id(target))

    def resolve(self, ref: str) -> Any:
        if ref in ("#", ""):
            return self.document
        if ref.startswith("#/"):
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = unquote(part).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict):
                    target = target.get(part)
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    return None
            return target
        if ref.startswith("#"):
            return self.anchors.get(ref[1:])
        return None  # not in this document: the validator cannot resolve it either

    # -- expansion -----------------------------------------------------------------------

    def expansion(self) -> None:
        order = self.in_place_order()
        if order is None:
            return
        limit = self.limits.max_expansion
        cap = limit + 1
        previous: dict[int, int] = {}
        for level in range(self.limits.max_levels + 1):
            current: dict[int, int] = {}
            for key in order:  # subschemas before what applies them
                node = self.nodes[key]
                count = 1 if level == 0 else self.child_count(node, previous)
                count += sum(current.get(k, 0) for k in node.in_place)
                current[key] = min(count, cap)
                if count > limit:
                    self.report(
                        node.path,
                        f"is too expensive to validate against: one value{_at(level)} may be"
                        f" checked against more than {limit} subschemas (anyOf, oneOf, allOf"
                        " and $ref applied to the same value add up, and multiply level after"
                        " level); simplify it",
                    )
                    return
            if not any(current.values()):
                return
            previous = current

    def child_count(self, node: _Node, previous: dict[int, int]) -> int:
        """The worst count of a property or item of the value ``node`` applies to."""

        def one(keys: list[int]) -> int:
            return max((previous.get(k, 0) for k in keys), default=0)

        def every(keys: list[int]) -> int:
            return sum(previous.get(k, 0) for k in keys)

        by_property = one(node.properties) + every(node.every_property)
        by_item = one(node.items) + every(node.every_item)
        return max(by_property, by_item)

    def in_place_order(self) -> list[int] | None:
        """The nodes, each after the subschemas it applies in place; ``None`` (reported) if a
        ``$ref`` cycle never descends into the value."""
        order: list[int] = []
        state: dict[int, bool] = {}  # True while on the path, False once ordered
        for start in self.nodes:
            if start in state:
                continue
            stack = [(start, iter(self.nodes[start].in_place))]
            state[start] = True
            while stack:
                key, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    state[key] = False
                    order.append(key)
                elif state.get(child) is True:
                    path = self.nodes[child].path
                    self.report(
                        path,
                        "refers back to itself through $ref without descending into a property"
                        " or item: validating would never end",
                    )
                    return None
                elif child not in state:
                    state[child] = True
                    stack.append((child, iter(self.nodes[child].in_place)))
        return order


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _quote(pattern: str) -> str:
    return repr(pattern) if len(pattern) <= 60 else repr(pattern[:57] + "...")


def _at(level: int) -> str:
    return "" if level == 0 else f" {level} level(s) down in the payload"
