"""Schema verdicts from jsonschema-rs where it gives python-jsonschema's, in a fraction of the time.

python-jsonschema takes ~40 us to pass a CreatePin payload; jsonschema-rs, a compiled validator,
~0.25 us. :func:`fast_verdict` compiles a schema there only when nothing in it lets jsonschema-rs
be laxer than python-jsonschema as flowmixer uses it (a keyword, a regular expression or a
draft it may read differently makes it ``None``, and the caller keeps python-jsonschema). What
jsonschema-rs passes is valid; what it refuses, or cannot read (a non-JSON value, a lone
surrogate), python-jsonschema judges again, so the final verdict and every message stay
python-jsonschema's. Without jsonschema-rs, or with ``FLOWMIXER_FAST_SCHEMA=0``, it is
``None`` throughout.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from jsonschema import Draft6Validator, Draft7Validator, Draft201909Validator, Draft202012Validator

if TYPE_CHECKING:
    from collections.abc import Callable

    from jsonschema.protocols import Validator

FAST_SCHEMA_VARIABLE = "FLOWMIXER_FAST_SCHEMA"

_DRAFTS: dict[type[Any], str] = {
    Draft6Validator: "Draft6Validator",
    Draft7Validator: "Draft7Validator",
    Draft201909Validator: "Draft201909Validator",
    Draft202012Validator: "Draft202012Validator",
}

# Keywords whose meaning both libraries share for JSON values (checked by the differential
# tests); any other keyword python-jsonschema applies (multipleOf, which jsonschema-rs computes
# exactly where python-jsonschema divides floats; unevaluated*, dynamic and remote references,
# a draft's old forms) sends the schema to python-jsonschema.
_SAFE = frozenset(
    [
        "type",
        "enum",
        "const",
        "properties",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "required",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "format",
        "$ref",
    ]
)

# A regular expression both engines read alike: literals, classes without nested sets, ``\d``
# (ASCII in jsonschema-rs, so at most stricter) and escaped punctuation; no flags, lookaround,
# backreferences, ``\w``/``\s``/``\b`` (Unicode sets that differ), possessive quantifiers or a
# brace that is not a whole ``{m}``/``{m,}``/``{m,n}``. jsonschema-rs's ``$`` and ``.`` are
# stricter than Python's (no match before a final newline; no ``\r``): it can only refuse more.
_ESCAPABLE = frozenset("d.^$*+?()[]{}|/\\-")
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")
_UNSAFE_IN_PATTERN = ("(?", "[[", "&&", "--", "~~", "*+", "++", "?+", "}+")


def fast_verdict(
    schema: Any, fallback: Validator, *, formats: bool = False
) -> Callable[[Any], bool] | None:
    """jsonschema-rs's ``is_valid`` for ``fallback``'s schema, or ``None`` where it may differ.

    ``formats`` says ``fallback`` checks ``format`` (then a schema with any is left to it).
    The verdict is True only where python-jsonschema's is; False means "ask ``fallback``".
    """
    if os.environ.get(FAST_SCHEMA_VARIABLE, "1").strip() == "0":
        return None
    draft = _DRAFTS.get(type(fallback))
    if draft is None or not isinstance(schema, dict) or not _safe(schema, formats):
        return None
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        compiled = getattr(jsonschema_rs, draft)(schema, validate_formats=False)
    except Exception:
        return None
    check: Callable[[Any], bool] = compiled.is_valid
    return _without_tuples(check) if _tells_tuples(schema) else _guarded(check)


def _guarded(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def verdict(instance: Any) -> bool:
        try:
            return check(instance)
        except Exception:
            return False

    return verdict


def _without_tuples(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    # jsonschema-rs reads a tuple as an array, python-jsonschema does not; where the schema can
    # tell (an "array" type, a list in enum/const) a value holding one goes to python-jsonschema.
    def verdict(instance: Any) -> bool:
        try:
            return check(instance) and not _holds_tuple(instance)
        except Exception:
            return False

    return verdict


def _holds_tuple(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        values: Any = value.values()
    elif kind is list:
        values = value
    else:
        return kind is tuple
    for item in values:
        kind = type(item)
        if (kind is dict or kind is list or kind is tuple) and _holds_tuple(item):
            return True
    return False


def _tells_tuples(schema: Any) -> bool:
    """Whether ``schema`` may refuse a tuple that jsonschema-rs, reading it as an array, passes."""
    if isinstance(schema, list):
        return any(map(_tells_tuples, schema))
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key == "type" and (value == "array" or (isinstance(value, list) and "array" in value)):
            return True
        if key == "enum" and isinstance(value, list) and any(map(_holds_list, value)):
            return True
        if key == "const" and _holds_list(value):
            return True
        if _tells_tuples(value):
            return True
    return False


def _holds_list(value: Any) -> bool:
    if isinstance(value, dict):
        return any(map(_holds_list, value.values()))
    return isinstance(value, list)


def _safe(schema: Any, formats: bool) -> bool:
    """Whether every (sub)schema of ``schema`` keeps to what both libraries read alike.

    Walks data too (enum values, property names), which can only make it more cautious.
    """
    if isinstance(schema, list):
        return all(_safe(item, formats) for item in schema)
    if not isinstance(schema, dict):
        return True
    for key, value in schema.items():
        if key in Draft202012Validator.VALIDATORS or key in _OLD_KEYWORDS:
            if key not in _SAFE or (formats and key == "format"):
                return False
            if key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
                return False
            if key == "pattern" and not (isinstance(value, str) and _plain_pattern(value)):
                return False
            if key == "patternProperties" and not (
                isinstance(value, dict) and all(map(_plain_pattern, value))
            ):
                return False
        elif key in _IDENTIFIERS:
            return False  # a base URI or anchor moves what "#..." points at
        if not _safe(value, formats):
            return False
    return True


_OLD_KEYWORDS = frozenset(
    [
        "additionalItems",
        "dependencies",
        "$recursiveRef",
        "$recursiveAnchor",
        "divisibleBy",
        "disallow",
        "extends",
    ]
)
_IDENTIFIERS = frozenset(("$id", "id", "$anchor", "$dynamicAnchor"))


def _plain_pattern(pattern: str) -> bool:
    if any(unsafe in pattern for unsafe in _UNSAFE_IN_PATTERN):
        return False
    at, in_class = 0, False
    while at < len(pattern):
        char = pattern[at]
        at += 1
        if char == "\\":
            if pattern[at : at + 1] not in _ESCAPABLE:
                return False
            at += 1
        elif in_class:
            if char == "[":
                return False  # a nested set, or a POSIX class, in one engine only
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[at : at + 2] in ("]", "^]") or pattern[at : at + 1] in ("", "]"):
                return False  # where a "]" right after "[" is literal differs: stay safe
        elif char == "{":
            quantifier = _QUANTIFIER.match(pattern, at - 1)
            if quantifier is None:
                return False  # a literal brace, or "{,n}", which the engines read apart
            at = quantifier.end()
        elif char == "}":
            return False
    return not in_class
