"""A fault plan written by a person: ``--faults`` text and the body of ``/_emulator/faults``.

Two spellings of the same :class:`~components.pinterest.emulator.faults.FaultPlan` fields:

- a JSON object: ``{"error_rate": 0.05, "operations": ["pins/create"]}``;
- ``key=value`` pairs separated by commas, lists joined with ``+``:
  ``error_rate=0.05,drop_after_rate=0.2,operations=pins/create+boards/create``.

Every problem names the field and what was wrong; an unknown field lists the known ones.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from components.pinterest.emulator.faults import FaultPlan
from components.pinterest.emulator.operations import OPERATIONS
from runtime.errors import ConfigurationError


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("must be a whole number")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return int(value)


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part for part in value.split("+") if part]
    if isinstance(value, list):
        return value
    raise ValueError("must be a list (or names joined with '+')")


def _statuses(value: Any) -> tuple[int, ...]:
    return tuple(_integer(item) for item in _list(value))


def _operations(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = _list(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError("must hold operation ids such as 'pins/create'")
    return frozenset(items)


def _optional_integer(value: Any) -> int | None:
    return None if value is None else _integer(value)


FIELDS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "latency_ms": _number,
    "jitter_ms": _number,
    "error_rate": _number,
    "error_statuses": _statuses,
    "drop_before_rate": _number,
    "drop_after_rate": _number,
    "operations": _operations,
    "max_faults": _optional_integer,
    "seed": _integer,
    "retry_after": _integer,
}


def plan_from_mapping(data: Any, where: str) -> FaultPlan:
    """The plan ``data`` (a JSON object) describes; ``where`` starts every error message."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where}: expected a JSON object of fault settings")
    values: dict[str, Any] = {}
    for key, raw in data.items():
        convert = FIELDS.get(key)
        if convert is None:
            raise ConfigurationError(
                f"{where}: unknown field {key!r}; the fields are: {', '.join(FIELDS)}"
            )
        try:
            values[key] = convert(raw)
        except ValueError as exc:
            reason = str(exc) if str(exc).startswith("must") else "must be a number"
            raise ConfigurationError(f"{where}: {key} {reason}, not {raw!r}") from None
    if values.get("operations") is not None:
        _check_operations(values["operations"], where)
    try:
        return FaultPlan(**values)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _check_operations(names: frozenset[str], where: str) -> None:
    known = {op.operation_id for op in OPERATIONS}
    unknown = sorted(names - known)
    if unknown:
        raise ConfigurationError(
            f"{where}: operations: no operation {', '.join(map(repr, unknown))}; the operations"
            f" are: {', '.join(sorted(known))}"
        )


def parse_faults(text: str, where: str = "--faults") -> FaultPlan:
    """The plan written as JSON (starting with ``{``) or as ``key=value,...`` pairs."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{where}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        return plan_from_mapping(data, where)
    pairs: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in stripped.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{where}: expected key=value, not {pair!r}")
        pairs[key.strip()] = value.strip()
    return plan_from_mapping(pairs, where)


def plan_to_json(plan: FaultPlan) -> dict[str, Any]:
    """``plan`` as the JSON object :func:`plan_from_mapping` reads back."""
    data = dataclasses.asdict(plan)
    data["error_statuses"] = list(plan.error_statuses)
    data["operations"] = None if plan.operations is None else sorted(plan.operations)
    return data
