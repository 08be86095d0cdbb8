"""Turning parse and validation failures into :class:`~runtime.errors.Problem` sentences.

Each problem sits at a JSON path (``$.components.post.concurrency``) and says what is wrong
in words a newcomer understands: bad JSON syntax and repeated keys (:func:`parse_json`),
pydantic model errors (:func:`pydantic_problems`) and JSON Schema errors
(:func:`schema_problems`). The manifest registry and the flow validator share them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from difflib import get_close_matches
from types import UnionType
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from jsonschema.validators import validator_for
from pydantic import BaseModel, ValidationError

from runtime.errors import Problem
from runtime.mapping import json_path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaValidationError
    from jsonschema.protocols import Validator

MAX_MESSAGE = 300
MAX_SUGGESTIONS = 500

# keywords whose subschemas apply to a property or item, not to the value itself
_INTO_CHILDREN = frozenset(
    {
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "prefixItems",
        "items",
        "additionalItems",
        "unevaluatedItems",
        "contains",
    }
)

_KINDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
}


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``'; did you mean "x"?'`` for the closest of ``options``, or ``""``."""
    names = list(options)
    if len(names) > MAX_SUGGESTIONS:  # a hint is not worth time quadratic in a flow's size
        return ""
    close = get_close_matches(name, names, n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, with its article: "a string", "an object"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def cap(message: str) -> str:
    """``message`` cut to :data:`MAX_MESSAGE` characters (jsonschema quotes whole values)."""
    return message if len(message) <= MAX_MESSAGE else f"{message[: MAX_MESSAGE - 1]}…"


def parse_json(text: str) -> tuple[Any, list[Problem]]:
    """The JSON document in ``text`` and its problems (bad syntax; a key given twice)."""
    repeated: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                repeated.append(key)
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, [Problem("$", f"is not valid JSON: {exc.msg} at {where}")]
    return data, [
        Problem("$", f'has the key "{key}" twice in one object; JSON keeps only the last one')
        for key in dict.fromkeys(repeated)
    ]


def pydantic_problems(
    error: ValidationError, model: type[BaseModel], root: str = "$"
) -> list[Problem]:
    """``error``'s problems as sentences at JSON paths (by the models' JSON aliases)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if isinstance(part, str | int))
        kind, given = item["type"], item.get("input")
        if kind == "missing":
            message = "is required but missing"
        elif kind == "extra_forbidden":
            known = _field_names(model, loc[:-1])
            hint = did_you_mean(str(loc[-1]), known) if loc else ""
            message = f"is not a known field; the known fields here are: {', '.join(known)}{hint}"
        elif kind in _KINDS:
            message = f"must be {_KINDS[kind]}, not {json_type(given)}"
        elif kind == "value_error":
            message = str(item["msg"]).removeprefix("Value error, ")
        else:
            message = re.sub(r"^\w+ should", "must", str(item["msg"]))
            if isinstance(given, int | float | str) and len(str(given)) <= 40:
                message += f" (it is {json.dumps(given)})"
        problems.append(Problem(json_path(root, *loc), message))
    return problems


def schema_validator(schema: dict[str, Any]) -> Validator:
    """A validator for ``schema`` of the draft it names (2020-12 when it names none)."""
    return validator_for(schema)(schema)


ERROR_MESSAGE = "errorMessage"
"""A schema keyword saying, in words, what a value refused by that (sub)schema should be: used
instead of the validator's own message (e.g. for a ``pattern``, which says little to a person)."""


def schema_problems(
    schema: Any,
    instance: Any,
    root: str = "$",
    *,
    validator: Validator | None = None,
    keep: Callable[[SchemaValidationError], bool] | None = None,
) -> list[Problem]:
    """Every way ``instance`` breaks the JSON Schema ``schema``, each at its JSON path.

    ``validator`` (of ``schema``, from :func:`schema_validator`) saves building one per call;
    ``keep`` leaves out the errors it says no to (what the caller has reported otherwise).

    Messages are jsonschema's, but for a value that a schema refuses whatever it is
    (``{"not": {}}`` or ``false``), which is said to be "not allowed here", with the
    condition of the ``if`` that refused it when there is one.
    """
    problems = []
    seen: dict[tuple[tuple[str | int, ...], ...], int] = {}
    validator = validator or schema_validator(schema)
    for error in validator.iter_errors(instance):
        if keep is not None and not keep(error):
            continue
        path, where = list(error.absolute_path), list(error.absolute_schema_path)
        if error.schema is False:
            # jsonschema leaves the key of a false subschema out of both paths: find it again
            key = _false_key(schema, instance, path, where, seen)
            if key is not None:
                path, where = [*path, key], [*where, key]
            if key is None and where and where[-1] in _INTO_CHILDREN:
                given = json.dumps(error.instance, default=str)  # the child's name is lost
                message = "holds a value that is not allowed here"
                message += f": {given}" if len(given) <= 40 else ""
            else:
                message = _refusal(schema, instance, path, where)
        elif error.validator == "not" and error.validator_value in ({}, True):
            message = _refusal(schema, instance, path, where[:-1])
        elif isinstance(error.schema, dict) and isinstance(error.schema.get(ERROR_MESSAGE), str):
            given = json.dumps(error.instance, default=str)
            message = error.schema[ERROR_MESSAGE]
            message = f"{given} {message}" if len(given) <= 80 else message
        else:
            message = error.message
        problems.append(Problem(json_path(root, *path), message))
    return problems


def _false_key(
    schema: Any,
    instance: Any,
    path: list[str | int],
    where: list[str | int],
    seen: dict[tuple[tuple[str | int, ...], ...], int],
) -> str | None:
    """The property a ``false`` subschema of ``properties`` refused; jsonschema reports them
    in the order of ``properties``, so the n-th report at one place is the n-th such key."""
    subschemas, parent = _walk(schema, where), _walk(instance, path)
    if not (where and where[-1] == "properties"):
        return None
    if not isinstance(subschemas, dict) or not isinstance(parent, dict):
        return None
    keys = [key for key, sub in subschemas.items() if sub is False and key in parent]
    n = seen.get((tuple(path), tuple(where)), 0)
    seen[(tuple(path), tuple(where))] = n + 1
    return keys[n] if n < len(keys) else None


def _refusal(schema: Any, instance: Any, path: list[str | int], where: list[str | int]) -> str:
    """``property "value" is not allowed here when "operator" is "exists"``: the condition is
    the ``if`` whose ``then`` refused the property, by the values the object gives to the
    properties that ``if`` tests (none for an ``else``, whose ``if`` did not hold)."""
    name = path[-1] if path else None
    if not isinstance(name, str):
        return "is not allowed here"
    message = f'property "{name}" is not allowed here'
    if where[-3:] != ["then", "properties", name]:
        return message
    branch, parent = _walk(schema, where[:-3]), _walk(instance, path[:-1])
    tested = branch.get("if") if isinstance(branch, dict) else None
    tested = tested.get("properties") if isinstance(tested, dict) else None
    if not isinstance(tested, dict) or not isinstance(parent, dict):
        return message
    given = [
        f'"{key}" is {json.dumps(parent[key], default=str)}'
        for key in tested
        if key != name and key in parent and len(json.dumps(parent[key], default=str)) <= 40
    ]
    return f"{message} when {' and '.join(given)}" if given else message


def _walk(document: Any, path: Sequence[str | int]) -> Any:
    """The part of ``document`` at ``path`` (keys and indexes), or ``None``."""
    for part in path:
        if isinstance(document, dict) and isinstance(part, str):
            document = document.get(part)
        elif isinstance(document, list) and isinstance(part, int) and part < len(document):
            document = document[part]
        else:
            return None
    return document


def _field_names(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The JSON names of the fields of the model found at ``loc`` inside ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields.items()
            found = [f for name, f in fields if part in (name, f.alias)]
            current = found[0].annotation if found else None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) in (list, tuple):
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if get_origin(annotation) in (Union, UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return options[0] if options else annotation
    return annotation
