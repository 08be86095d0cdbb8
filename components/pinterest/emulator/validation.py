"""Checks of path ids, query parameters and JSON body fields; each failure names the field.

Unknown body fields are ignored, as the real API does; a known field with a wrong value is
refused with 400 (code 1) and a sentence saying which field and what is accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Final

from aiohttp import web

from components.pinterest.emulator.errors import invalid

DIGITS: Final = re.compile(r"^\d+$")
_MISSING: Final = object()


def path_id(request: web.Request, name: str) -> str:
    """The path parameter ``name``, which must be a decimal id."""
    value = request.match_info[name]
    if not DIGITS.match(value):
        raise invalid(f"Invalid parameter: {name} must be a string of digits, not {value!r}.")
    return value


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    raw = await request.read()
    if not raw:
        raise invalid("The request body is missing; send a JSON object.")
    if request.content_type != "application/json":
        raise invalid(f"The request body must be application/json, not {request.content_type}.")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _get(body: dict[str, Any], name: str, where: str) -> tuple[Any, str]:
    return body.get(name, _MISSING), f"{where}{name}"


def text(
    body: dict[str, Any],
    name: str,
    *,
    where: str = "",
    required: bool = False,
    nullable: bool = True,
    min_length: int = 0,
    max_length: int | None = None,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    """A string field; ``None`` when absent (or null and ``nullable``)."""
    value, field = _get(body, name, where)
    if value is _MISSING or (value is None and nullable):
        if required:
            raise invalid(f"Invalid parameter: {field} is required.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid parameter: {field} must be a string, not {_kind(value)}.")
    if len(value) < min_length:
        raise invalid(f"Invalid parameter: {field} must have at least {min_length} character(s).")
    if max_length is not None and len(value) > max_length:
        raise invalid(
            f"Invalid parameter: {field} is {len(value)} characters long;"
            f" the limit is {max_length}."
        )
    if pattern is not None and not pattern.match(value):
        raise invalid(f"Invalid parameter: {field} {value!r} does not match {pattern.pattern}.")
    return value


def digits(
    body: dict[str, Any], name: str, *, where: str = "", required: bool = False
) -> str | None:
    """A decimal-id string field (``^\\d+$``)."""
    return text(body, name, where=where, required=required, pattern=DIGITS)


def choice(
    body: dict[str, Any], name: str, allowed: Collection[str], *, where: str = ""
) -> str | None:
    """An enum field; ``None`` when absent."""
    value, field = _get(body, name, where)
    if value is _MISSING or value is None:
        return None
    if value not in allowed:
        raise invalid(f"Invalid parameter: {field} is {value!r}; use one of: {', '.join(allowed)}.")
    return str(value)


def flag(body: dict[str, Any], name: str, default: bool, *, where: str = "") -> bool:
    value, field = _get(body, name, where)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"Invalid parameter: {field} must be true or false, not {_kind(value)}.")
    return value


def whole(body: dict[str, Any], name: str, *, where: str = "", minimum: int = 0) -> int | None:
    value, field = _get(body, name, where)
    if value is _MISSING or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(f"Invalid parameter: {field} must be an integer of at least {minimum}.")
    return value


def objects(
    body: dict[str, Any], name: str, *, where: str = "", min_items: int = 0, max_items: int = 0
) -> list[dict[str, Any]]:
    """A required array of objects with ``min_items``..``max_items`` entries."""
    value, field = _get(body, name, where)
    if value is _MISSING or value is None:
        raise invalid(f"Invalid parameter: {field} is required.")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid(f"Invalid parameter: {field} must be an array of objects.")
    if not min_items <= len(value) <= max_items:
        raise invalid(
            f"Invalid parameter: {field} has {len(value)} item(s);"
            f" it takes {min_items} to {max_items}."
        )
    return value


def query_flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise invalid(f"Invalid parameter: {name} must be true or false, not {value!r}.")
    return value.lower() == "true"


def query_choice(request: web.Request, name: str, allowed: Collection[str]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise invalid(f"Invalid parameter: {name} is {value!r}; use one of: {', '.join(allowed)}.")
    return value


def query_choices(request: web.Request, name: str, allowed: Collection[str]) -> frozenset[str]:
    """A repeated query parameter (``?a=X&a=Y``); commas inside one value also separate."""
    chosen = {part for raw in request.query.getall(name, []) for part in raw.split(",") if part}
    wrong = sorted(chosen - set(allowed))
    if wrong:
        raise invalid(
            f"Invalid parameter: {name} contains {', '.join(wrong)}; use: {', '.join(allowed)}."
        )
    return frozenset(chosen)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", str: "a string"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )
