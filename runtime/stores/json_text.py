"""Compact JSON text for what the stores keep, written and read by orjson when it is installed.

orjson encodes and decodes a queued envelope four to six times faster than the standard
library, a few percent of the server's CPU per webhook event on the durable brokers (see
docs/benchmarks.md, the webhook section). ``FLOWMIXER_JSON=json`` (read at import)
keeps to the standard library. Either side reads what the other wrote; where orjson cannot do
what the standard library does, the standard library does it:

- integers beyond 64 bits: orjson refuses to write them and reads them as floats, so they are
  written by the standard library and text holding a run of 19 digits or more is read by it;
- ``NaN`` and ``Infinity``, which the standard library writes (they are not JSON): orjson
  refuses to read them, so the standard library reads that text. orjson writes them as
  ``null``; :mod:`runtime.stores.codec` refuses them in state before either writes;
- object keys that are not text: orjson writes them as the standard library does (``1`` as
  ``"1"``, ``None`` as ``"null"``);
- nesting deeper than orjson's limit (255 levels written): the standard library writes it;
- enums and UUIDs, which the standard library does not know (an envelope keeps a stand-in
  for them): orjson writes their value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any, Final

JSON_VARIABLE: Final = "FLOWMIXER_JSON"

_LONG_DIGITS: Final = re.compile(r"\d{19}")

try:
    if os.environ.get(JSON_VARIABLE, "").strip().lower() == "json":
        raise ImportError(f"{JSON_VARIABLE}=json")
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]

ENGINE: Final = "json" if orjson is None else "orjson"
"""Which library writes and reads the stores' JSON in this process."""

# Dataclasses and datetimes go to ``default`` as with the standard library, which knows
# neither; keys that are not text are written as it writes them.
_OPTIONS: Final = (
    0
    if orjson is None
    else orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as compact JSON text (``default`` turns what JSON cannot hold into what it
    can); ``TypeError`` or ``ValueError`` as ``json.dumps`` raises them."""
    if orjson is not None:
        try:
            return orjson.dumps(value, default=default, option=_OPTIONS).decode()
        except TypeError:
            pass  # a big integer, deep nesting, or what ``default`` refused: said below
    return json.dumps(value, separators=(",", ":"), default=default)


def dumps_bytes(value: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes, without decoding orjson's bytes only to encode them again
    (an HTTP request body)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=_OPTIONS)
        except TypeError:
            pass
    return dumps(value).encode()


def loads(text: str) -> Any:
    """JSON text (from either library) back to data; ``ValueError`` when it is not JSON."""
    if orjson is None or _LONG_DIGITS.search(text) is not None:
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN or Infinity from the standard library, or deep nesting
