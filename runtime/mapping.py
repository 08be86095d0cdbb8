"""Templates of ``config.transform``: JSON values with inline variables, compiled once per flow.

A variable ``{{{$.<componentId>.<port>.<path>}}}`` reads what an upstream component sent on one
of its out-ports for the same event; ``<path>`` is optional, dot-separated keys, with array
items as ``.0`` or ``[0]``. A string that is exactly one variable takes the variable's value
with its JSON type; a variable inside longer text is written as text (strings as they are,
``null`` or a missing value as nothing, anything else as compact JSON). A path that leads
nowhere (missing component, port, key or item; a key into a number) is ``null``.

A ``{{{ ... }}}`` that is not a well-formed variable, or an opening ``{{{$`` without its closing
``}}}``, is refused when the template is compiled. Other text, including a lone ``{{{``, is
left as it is. Dict keys are never templated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.envelope import Trail
from runtime.errors import ConfigurationError
from runtime.manifest import PORT_PATTERN

COMPONENT_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

_VARIABLE = re.compile(r"\{\{\{(.*?)\}\}\}", re.DOTALL)
_UNCLOSED = re.compile(r"\{\{\{\s*\$")
_NAME = re.compile(r"[^.\[\]}]*")
_KEY = re.compile(r"\.([^.\[\]}]+)")
_INDEX = re.compile(r"\[([0-9]+)\]")
_DIGITS = re.compile(r"[0-9]+")
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_-]*$")
_SHAPE = "write it like {{{$.componentId.port}}} or {{{$.componentId.port.some.field}}}"

Render = Callable[[Trail], Any]
_Getter = Callable[[Trail], Any]


class TemplateError(ConfigurationError):
    """A malformed variable; ``path`` is the JSON path of the string that holds it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def json_path(base: str, *keys: str | int) -> str:
    """``base`` extended by ``keys``: ``.key`` for plain keys, ``["odd key"]`` and ``[0]`` else."""
    parts = [base]
    for key in keys:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _PLAIN_KEY.match(key):
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Variable:
    """One parsed variable: what it reads and where in the flow it is written.

    ``path`` holds keys as written: ``"0"`` for ``.0``, ``0`` for ``[0]`` (both pick item 0 of an
    array, or key ``"0"`` of an object). ``location`` is the JSON path of the string holding it.
    """

    component_id: str
    port: str
    path: tuple[str | int, ...]
    location: str
    text: str


class Template:
    """A compiled ``config.transform`` value.

    ``render(trail)`` builds the value for one message from ``trail`` (component id -> out-port
    -> payload); it returns fresh containers and never changes the trail. ``references`` are
    the ``(componentId, port)`` pairs the template reads.
    """

    __slots__ = ("references", "render", "variables")

    def __init__(self, render: Render, variables: tuple[Variable, ...]) -> None:
        # An attribute, not a method: the plan stores ``template.render`` and the hot path
        # calls the closure directly.
        self.render: Render = render
        self.variables = variables
        self.references = frozenset((v.component_id, v.port) for v in variables)

    def __repr__(self) -> str:
        return f"Template(variables={[v.text for v in self.variables]!r})"


def compile_template(value: Any, location: str = "$") -> Template:
    """Compile a JSON value; ``location`` is its JSON path, used to name where an error is.

    Raises :class:`TemplateError` for the first malformed variable found.
    """
    variables: list[Variable] = []
    render = _compile(value, location, variables)
    return Template(render, tuple(variables))


def scan_template(value: Any, location: str = "$") -> tuple[list[Variable], list[TemplateError]]:
    """The well-formed variables of ``value`` and its malformed ones (the first of each string).

    Unlike :func:`compile_template`, it goes on past an error, so a validator can report all.
    """
    variables: list[Variable] = []
    errors: list[TemplateError] = []
    if isinstance(value, str):
        try:
            _compile_string(value, location, variables)
        except TemplateError as error:
            errors.append(error)
        return variables, errors
    if isinstance(value, dict):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        items = []
    for key, item in items:
        found, failed = scan_template(item, json_path(location, key))
        variables += found
        errors += failed
    return variables, errors


def fresh(value: Any) -> Any:
    """A copy of JSON data: new dicts and lists all the way down, leaves shared."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    return value


def _compile(value: Any, location: str, variables: list[Variable]) -> Render:
    before = len(variables)
    if isinstance(value, str):
        return _compile_string(value, location, variables)
    if isinstance(value, dict):
        items = [(k, _compile(v, json_path(location, k), variables)) for k, v in value.items()]
        if len(variables) > before:
            return lambda trail: {k: render(trail) for k, render in items}
    elif isinstance(value, list):
        renders = [_compile(v, json_path(location, i), variables) for i, v in enumerate(value)]
        if len(variables) > before:
            return lambda trail: [render(trail) for render in renders]
    else:
        return lambda _trail: value
    constant = fresh(value)  # a copy: changing the flow data later must not change the template
    return lambda _trail: fresh(constant)


def _compile_string(text: str, location: str, variables: list[Variable]) -> Render:
    matches = list(_VARIABLE.finditer(text))
    literals = [text[a:b] for a, b in _gaps([m.span() for m in matches], len(text))]
    for literal in literals:
        if _UNCLOSED.search(literal):
            raise TemplateError(
                location, f"a variable opened with {{{{{{ is never closed; {_SHAPE}"
            )
    if not matches:
        return lambda _trail: text
    getters = []
    for match in matches:
        variable = _parse(match.group(1), location, match.group(0))
        variables.append(variable)
        getters.append(_getter(variable))
    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        get = getters[0]
        return lambda trail: fresh(get(trail))
    pairs = tuple(zip(literals, getters, strict=False))
    tail = literals[-1]

    def render(trail: Trail) -> str:
        out: list[str] = []
        for literal, get in pairs:
            out.append(literal)
            out.append(_as_text(get(trail)))
        out.append(tail)
        return "".join(out)

    return render


def _gaps(spans: list[tuple[int, int]], end: int) -> list[tuple[int, int]]:
    """The stretches of text around ``spans``: always ``len(spans) + 1`` of them."""
    starts = [0, *(b for _, b in spans)]
    ends = [*(a for a, _ in spans), end]
    return list(zip(starts, ends, strict=True))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _parse(raw: str, location: str, written: str) -> Variable:
    def fail(message: str) -> TemplateError:
        return TemplateError(location, f"variable {written} {message}; {_SHAPE}")

    body = raw.strip()
    if not body.startswith("$."):
        raise fail('must start with "$." followed by a component id')
    component_id, dot, rest = body[2:].partition(".")
    if not component_id:
        raise fail("names no component")
    if not COMPONENT_ID_PATTERN.match(component_id):
        raise fail(
            f'has the component id "{component_id}", but ids start with a letter and hold'
            ' only letters, digits, "_" and "-"'
        )
    port = _NAME.match(rest)
    assert port is not None  # the pattern matches the empty string
    if not dot or not port.group(0):
        raise fail(f'names no port of component "{component_id}"')
    if not PORT_PATTERN.match(port.group(0)):
        raise fail(
            f'has the port "{port.group(0)}", but ports start with a lowercase letter and'
            ' hold only letters, digits and "_"'
        )
    path: list[str | int] = []
    at = port.end()
    while at < len(rest):
        if key := _KEY.match(rest, at):
            path.append(key.group(1))
            at = key.end()
        elif index := _INDEX.match(rest, at):
            path.append(int(index.group(1)))
            at = index.end()
        elif rest[at] == ".":
            raise fail("has an empty key (a dot at the end or two dots in a row)")
        elif rest[at] == "[":
            raise fail("has a [ that is not a closed item number like [0]")
        else:
            raise fail(f'has an unexpected "{rest[at]}"')
    return Variable(component_id, port.group(0), tuple(path), location, written)


def _getter(variable: Variable) -> _Getter:
    component_id, port = variable.component_id, variable.port
    # (dict key, list index or None) per step, computed here so rendering only looks up.
    steps = tuple(
        (str(key), key if isinstance(key, int) else int(key) if _DIGITS.fullmatch(key) else None)
        for key in variable.path
    )

    def get(trail: Trail) -> Any:
        outputs = trail.get(component_id)
        if outputs is None:
            return None
        value = outputs.get(port)
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list) and index is not None:
                value = value[index] if index < len(value) else None
            else:
                return None
        return value

    return get
