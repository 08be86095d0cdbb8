"""How stores turn state values and dead-lettered envelopes into JSON text and back.

State values must be JSON data and are checked strictly, so that what a component reads back
equals what it stored (tuples come back as lists). Envelopes of dead letters are encoded
leniently: a letter is never refused because its payload holds something odd, as losing it
would lose the event.
"""

from __future__ import annotations

import math
from typing import Any

from runtime.envelope import Envelope
from runtime.stores import json_text

_SCALARS = (str, int, bool, type(None))


def _problem(value: Any, path: str, parents: set[int]) -> str | None:
    """Where and why ``value`` is not JSON data, or ``None`` when it is."""
    if isinstance(value, _SCALARS):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot hold"
    if not isinstance(value, (dict, list, tuple)):
        return f"{path} is a {type(value).__name__}, which is not JSON data"
    if id(value) in parents:
        return f"{path} contains itself"
    parents.add(id(value))
    try:
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str):
                    return f"{path} has the key {name!r}; JSON object keys must be strings"
                found = _problem(item, f"{path}[{name!r}]", parents)
                if found:
                    return found
        else:
            for index, item in enumerate(value):
                found = _problem(item, f"{path}[{index}]", parents)
                if found:
                    return found
    finally:
        parents.discard(id(value))
    return None


def encode_state(key: str, value: Any) -> str:
    """``value`` as compact JSON text; ``TypeError`` naming ``key`` when it is not JSON data."""
    problem = _problem(value, "the value", set())
    if problem is not None:
        raise TypeError(f"cannot store state key {key!r}: {problem}")
    return json_text.dumps(value)


def decode(text: str) -> Any:
    """JSON text back to data (a fresh copy on every call)."""
    return json_text.loads(text)


def _stand_in(value: Any) -> str:
    return f"<{type(value).__name__} that is not JSON data>"


def _sanitize(value: Any, parents: frozenset[int]) -> Any:
    """A JSON-ready copy of ``value``: keys as text, cycles and odd objects as stand-ins."""
    if isinstance(value, (*_SCALARS, float)):
        return value
    if not isinstance(value, (dict, list, tuple)) or id(value) in parents:
        return _stand_in(value)
    inner = parents | {id(value)}
    if isinstance(value, dict):
        return {str(name): _sanitize(item, inner) for name, item in value.items()}
    return [_sanitize(item, inner) for item in value]


def encode_envelope(envelope: Envelope) -> str:
    """The envelope as JSON text; values that are not JSON data are kept as a short stand-in."""
    data = envelope.to_dict()
    try:
        return json_text.dumps(data, default=_stand_in)
    except (TypeError, ValueError):  # keys JSON cannot hold, or a value containing itself
        return json_text.dumps(_sanitize(data, frozenset()))


def decode_envelope(text: str) -> Envelope:
    """Rebuild an envelope stored with :func:`encode_envelope`."""
    data: dict[str, Any] = json_text.loads(text)
    return Envelope.from_dict(data)
