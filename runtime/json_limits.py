"""JSON from outside (request bodies, ``--input``, ``--push`` files) parsed within limits.

Python's parser recurses once per nesting level (about 1,000 levels end in ``RecursionError``)
and refuses integers of more than 4,300 digits with a bare ``ValueError``. :func:`loads`
refuses, before that, JSON nested deeper than :data:`MAX_DEPTH` levels or holding a number
longer than :data:`MAX_NUMBER_LENGTH` characters, with a :class:`JSONLimitError` saying which
and where (line and column).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

MAX_DEPTH: Final = 64
MAX_NUMBER_LENGTH: Final = 100

# A string (skipped whole, so brackets inside it do not count) or a bracket.
_TOKENS: Final = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]', re.DOTALL)
_LONG_NUMBER: Final = re.compile(
    r'"(?:[^"\\]|\\.)*+"|(-?[0-9][0-9.eE+-]{' + str(MAX_NUMBER_LENGTH) + ",})", re.DOTALL
)


class JSONLimitError(ValueError):
    """JSON over a limit; ``msg`` says which, ``lineno`` and ``colno`` where (from 1)."""

    def __init__(self, msg: str, text: str, pos: int) -> None:
        self.msg = msg
        self.lineno = text.count("\n", 0, pos) + 1
        self.colno = pos - text.rfind("\n", 0, pos)
        super().__init__(f"{msg} at line {self.lineno} column {self.colno}")


def _check_depth(text: str) -> None:
    # Cheap test first: with few brackets in all, the nesting cannot be deep.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JSONLimitError(f"nested deeper than {MAX_DEPTH} levels", text, token.start())
        elif char in "]}":
            depth -= 1


def _long_number(text: str) -> None:
    for found in _LONG_NUMBER.finditer(text):
        if found.group(1) is not None:
            raise JSONLimitError(
                f"a number longer than {MAX_NUMBER_LENGTH} characters", text, found.start(1)
            )


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_LENGTH:
            raise _TooLong
        return kind(literal)

    return parse


class _TooLong(Exception):
    """A number over the limit, located afterwards (the parser does not say where)."""


_PARSE_INT: Final = _number(int)
_PARSE_FLOAT: Final = _number(float)


def loads(text: str) -> Any:
    """``json.loads(text)``, refusing what is over the limits with :class:`JSONLimitError`
    (``json.JSONDecodeError`` for what is not JSON, as ``json.loads``)."""
    try:
        value = json.loads(text, parse_int=_PARSE_INT, parse_float=_PARSE_FLOAT)
    except _TooLong:
        _long_number(text)
        raise JSONLimitError(
            f"a number longer than {MAX_NUMBER_LENGTH} characters", text, 0
        ) from None
    except RecursionError:
        # The parser got that deep, so the text up to there is well formed: the scan finds it.
        _check_depth(text)
        raise JSONLimitError(f"nested deeper than {MAX_DEPTH} levels", text, 0) from None
    # Scanned only once parsed: in valid JSON every string ends, so the scan is linear.
    _check_depth(text)
    return value
