"""The conditions of the Filter component, compiled once and evaluated without I/O.

A condition reads one field of a message by a dotted path (``pin.title``, ``items.0.id``: a
number picks an array item) and tests it with an operator. The rules, which hold for any
message, so a condition never raises while evaluating:

- a field is *missing* when the path does not lead anywhere; ``null`` counts as missing for
  ``exists``/``notExists`` (APIs often send ``null`` for an absent optional field);
- values compare as JSON: ``1`` equals ``1.0``, ``true`` never equals ``1``, arrays and objects
  compare by content;
- ordering operators compare two numbers, or two strings (by code point, so ISO-8601 times of
  the same format order correctly); any other pair, a missing field included, does not match;
- ``contains`` finds a substring in a string or an equal item in an array; other values do not
  contain anything; ``startsWith``, ``endsWith`` and ``matches`` apply to strings only;
- ``isEmpty`` holds for a missing field, ``null``, ``""``, ``[]`` and ``{}`` (not for ``0``);
- every ``not…`` operator is the exact negation of its positive twin (so a missing field passes
  ``notEquals``), and ``isNotEmpty`` negates ``isEmpty``;
- with ``case_sensitive=False`` text compares case-folded, also inside arrays and objects
  (their values; object keys keep their case).
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from runtime.errors import ConfigurationError
from runtime.regex_cost import backtracking_risk


class _Missing(Enum):
    MISSING = "missing"


MISSING: Final = _Missing.MISSING
"""What :func:`resolve` returns when the path leads nowhere."""

# Operators that read only the field; every other one needs ``value``.
VALUELESS_OPERATORS: Final = frozenset({"exists", "notExists", "isEmpty", "isNotEmpty"})
_NEGATIONS: Final = {
    "notEquals": "equals",
    "notContains": "contains",
    "notIn": "in",
    "notExists": "exists",
    "isNotEmpty": "isEmpty",
}
_ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "greaterThan": op.gt,
    "greaterThanOrEqual": op.ge,
    "lessThan": op.lt,
    "lessThanOrEqual": op.le,
}
OPERATORS: Final = frozenset(
    {"equals", "contains", "in", "exists", "isEmpty", "startsWith", "endsWith", "matches"}
    | set(_NEGATIONS)
    | set(_ORDERINGS)
)

Path = tuple[tuple[str, int | None], ...]
Test = Callable[[Any], bool]


def parse_path(field: str) -> Path:
    """Split a dotted path once: each step is an object key and, if it is digits, an index."""
    steps = field.split(".")
    if not field or "" in steps:
        raise ConfigurationError(
            f"field {field!r} is not a dotted path such as 'order.total' or 'items.0.id'"
        )
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    return tuple((step, int(step) if _is_index(step) else None) for step in steps)


def _is_index(step: str) -> bool:
    return step.isascii() and step.isdigit()


def resolve(message: Any, path: Path) -> Any:
    """The value at ``path`` in ``message``, or :data:`MISSING`."""
    current = message
    for key, index in path:
        if isinstance(current, dict):
            if key not in current:
                return MISSING
            current = current[key]
        elif isinstance(current, list) and index is not None and index < len(current):
            current = current[index]
        else:
            return MISSING
    return current


def json_key(value: Any, fold: bool = False) -> Any:
    """A hashable stand-in for a JSON value: equal keys mean equal JSON values.

    Booleans are tagged apart from numbers (Python says ``True == 1``); ``fold`` case-folds text.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("text", value.casefold() if fold else value)
    if isinstance(value, list):
        return ("array", tuple(json_key(item, fold) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, json_key(v, fold)) for k, v in value.items()))
    return ("other", value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: call it with a message to know whether the message passes."""

    field: str
    operator: str
    path: Path
    test: Test

    def __call__(self, message: Any) -> bool:
        return self.test(resolve(message, self.path))


def compile_condition(
    field: str, operator: str, value: Any = MISSING, *, case_sensitive: bool = True
) -> Condition:
    """Compile ``field operator value`` once; raises :class:`ConfigurationError` when invalid."""
    path = parse_path(field)
    _check_value(operator, value)
    fold = not case_sensitive
    positive = _NEGATIONS.get(operator)
    if positive is None:
        return Condition(field, operator, path, _test(operator, value, fold))
    test = _test(positive, value, fold)
    return Condition(field, operator, path, lambda actual: not test(actual))


def _check_value(operator: str, value: Any) -> None:
    if operator not in OPERATORS:
        known = ", ".join(sorted(OPERATORS))
        raise ConfigurationError(f"operator {operator!r} is unknown; use one of: {known}")
    if operator in VALUELESS_OPERATORS:
        if value is not MISSING:
            raise ConfigurationError(f"operator {operator!r} takes no value; remove 'value'")
        return
    if value is MISSING:
        raise ConfigurationError(f"operator {operator!r} needs a 'value' to compare with")
    if operator in ("in", "notIn"):
        wanted, ok = "an array", isinstance(value, list)
    elif operator in ("startsWith", "endsWith", "matches"):
        wanted, ok = "a string", isinstance(value, str)
    elif operator in _ORDERINGS:
        wanted, ok = "a number or a string", _is_number(value) or isinstance(value, str)
    else:
        return
    if not ok:
        raise ConfigurationError(f"operator {operator!r} needs {wanted} value, not {value!r}")


def _test(operator: str, value: Any, fold: bool) -> Test:
    """The test of a positive operator (``value`` already checked)."""
    if operator == "exists":
        return lambda actual: actual is not MISSING and actual is not None
    if operator == "isEmpty":
        return _is_empty
    if operator == "equals":
        expected = json_key(value, fold)
        return lambda actual: json_key(actual, fold) == expected
    if operator == "in":
        choices = frozenset(json_key(item, fold) for item in value)
        return lambda actual: json_key(actual, fold) in choices
    if operator == "contains":
        return _contains(value, fold)
    if operator in _ORDERINGS:
        return _ordering(_ORDERINGS[operator], value, fold)
    if operator == "matches":
        return _matches(value, fold)
    return _affix(str.startswith if operator == "startsWith" else str.endswith, value, fold)


def _is_empty(actual: Any) -> bool:
    if actual is MISSING or actual is None:
        return True
    return isinstance(actual, str | list | dict) and len(actual) == 0


def _contains(value: Any, fold: bool) -> Test:
    expected = json_key(value, fold)
    needle = value.casefold() if fold and isinstance(value, str) else value

    def contains(actual: Any) -> bool:
        if isinstance(actual, list):
            return any(json_key(item, fold) == expected for item in actual)
        if isinstance(actual, str) and isinstance(needle, str):
            return needle in (actual.casefold() if fold else actual)
        return False

    return contains


def _ordering(compare: Callable[[Any, Any], bool], bound: Any, fold: bool) -> Test:
    if _is_number(bound):
        return lambda actual: _is_number(actual) and compare(actual, bound)
    if fold:
        folded = bound.casefold()
        return lambda actual: isinstance(actual, str) and compare(actual.casefold(), folded)
    return lambda actual: isinstance(actual, str) and compare(actual, bound)


def _matches(value: str, fold: bool) -> Test:
    try:
        pattern = re.compile(value, re.IGNORECASE if fold else 0)
    except re.error as exc:
        raise ConfigurationError(
            f"value {value!r} is not a valid regular expression: {exc}"
        ) from exc
    risk = backtracking_risk(value)  # searched in every message: it must not backtrack
    if risk is not None:
        raise ConfigurationError(f"value {value!r} is refused: the pattern {risk}")
    return lambda actual: isinstance(actual, str) and pattern.search(actual) is not None


def _affix(method: Callable[[str, str], bool], value: str, fold: bool) -> Test:
    if fold:
        folded = value.casefold()
        return lambda actual: isinstance(actual, str) and method(actual.casefold(), folded)
    return lambda actual: isinstance(actual, str) and method(actual, value)
