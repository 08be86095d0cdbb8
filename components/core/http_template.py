"""``{{field}}`` placeholders of HttpRequest's URL, query, headers and body, filled from the
input message.

``{{name}}`` reads the message's field ``name``; ``{{a.b}}`` reads ``b`` of the object ``a``.
A string that is exactly one placeholder takes the field's value (in a JSON body, with its
JSON type); inside longer text a value is written as text: strings as they are, ``null`` as
nothing, anything else as compact JSON. In the URL each value is percent-encoded as one path
segment (``/`` included), and a missing or null field is refused: a request to a path with a
hole in it would reach some other resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from runtime.connector.errors import InputError

PLACEHOLDER: Final = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*) *\}\}")
_MISSING: Final = object()


def _read(message: Any, path: tuple[str, ...]) -> Any:
    value = message
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Template:
    """One string with placeholders, parsed once: literal text and field paths in turn."""

    parts: tuple[str | tuple[str, ...], ...]
    whole: tuple[str, ...] | None  # the path when the string is exactly one placeholder

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | tuple[str, ...]] = []
        at = 0
        for match in PLACEHOLDER.finditer(text):
            if match.start() > at:
                parts.append(text[at : match.start()])
            parts.append(tuple(match.group(1).split(".")))
            at = match.end()
        if at < len(text):
            parts.append(text[at:])
        whole = parts[0] if len(parts) == 1 and isinstance(parts[0], tuple) else None
        return cls(tuple(parts), whole)

    @property
    def fixed(self) -> bool:
        return all(isinstance(part, str) for part in self.parts)

    def value(self, message: Any) -> Any:
        """The field's value when the string is one placeholder (``None`` when missing), else
        the text with every placeholder filled."""
        if self.whole is not None:
            found = _read(message, self.whole)
            return None if found is _MISSING else found
        return self.render(message)

    def render(self, message: Any, encode: Callable[[str], str] | None = None) -> str:
        """The text with every placeholder filled (each value passed through ``encode``)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                text = _text(_read(message, part))
                out.append(encode(text) if encode is not None else text)
        return "".join(out)


def _segment(text: str) -> str:
    return quote(text, safe="")


def fill_url(template: Template, message: Any) -> str:
    """The URL with each field percent-encoded as a path segment; a missing, null or empty
    field is refused with :class:`~runtime.connector.errors.InputError` (field ``url``)."""
    for part in template.parts:
        if isinstance(part, tuple):
            value = _read(message, part)
            name = ".".join(part)
            if value is _MISSING or value is None or value == "":
                said = (
                    "has no"
                    if value is _MISSING
                    else "has a null"
                    if value is None
                    else "has an empty"
                )
                raise InputError("url", f"the message {said} field {name!r} for {{{{{name}}}}}")
    return template.render(message, _segment)


def compile_value(value: Any) -> Any:
    """``value`` (a JSON body template) with each string parsed into a :class:`Template`."""
    if isinstance(value, str):
        template = Template.parse(value)
        return value if template.fixed else template
    if isinstance(value, list):
        return [compile_value(item) for item in value]
    if isinstance(value, dict):
        return {key: compile_value(item) for key, item in value.items()}
    return value


def fill_value(compiled: Any, message: Any) -> Any:
    """A new JSON value from a :func:`compile_value` result, its placeholders filled."""
    if isinstance(compiled, Template):
        return compiled.value(message)
    if isinstance(compiled, list):
        return [fill_value(item, message) for item in compiled]
    if isinstance(compiled, dict):
        return {key: fill_value(item, message) for key, item in compiled.items()}
    return compiled
