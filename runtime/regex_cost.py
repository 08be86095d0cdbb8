"""A conservative static check for regular expressions that can backtrack catastrophically.

Python's ``re`` backtracks: ``^(a+)+$`` against ``"aaaa…b"`` tries every way to split the run
of ``a`` between the two quantifiers, 2^n of them. :func:`backtracking_risk` refuses the
shapes that allow this, reading the pattern's parse tree (never running it):

- a repeated group that can match the empty string (``(a*)*``, ``(a?)+``);
- inside a repeat of more than one pass, an unbounded quantifier whose characters the next
  part of the pattern can also match, so the split between them is ambiguous (``(a+)+``,
  ``(.*a){3}``); ``(\\d+\\.){3}`` is fine, as ``.`` ends each run of digits;
- a repeated alternation whose branches can start with the same character (``(a|ab)*``).

It is conservative: it may refuse a safe pattern (rewrite it, e.g. with a character class),
never the other way round for these shapes. Patterns it cannot parse are left to the schema
checker, which reports them as invalid.
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from typing import Any

# The parser behind ``re`` (``sre_parse``, whose old name warns): its tree has no stubs.
sre: Any = importlib.import_module("re._parser")
c: Any = importlib.import_module("re._constants")

MAX_PATTERN = 1000
"""Longest pattern accepted, in characters."""


@dataclass(frozen=True, slots=True)
class _Chars:
    """A set of characters: ``chars``, or every character but ``chars`` when ``negated``."""

    chars: frozenset[int] = frozenset()
    negated: bool = False

    def __or__(self, other: _Chars) -> _Chars:
        if not self.negated and not other.negated:
            return _Chars(self.chars | other.chars)
        if self.negated and other.negated:
            return _Chars(self.chars & other.chars, negated=True)
        excluded, given = (self, other) if self.negated else (other, self)
        return _Chars(excluded.chars - given.chars, negated=True)

    def meets(self, other: _Chars) -> bool:
        """Whether some character is in both."""
        if self.negated and other.negated:
            return True
        if self.negated or other.negated:
            excluded, given = (self, other) if self.negated else (other, self)
            return bool(given.chars - excluded.chars)
        return bool(self.chars & other.chars)


_NONE = _Chars()
_ANY = _Chars(negated=True)
_DIGITS = frozenset(map(ord, "0123456789"))
_SPACES = frozenset(map(ord, " \t\n\r\f\v"))
_WORD = frozenset(map(ord, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
# ASCII approximations of the classes: close enough to tell whether two parts overlap
_CATEGORIES = {
    c.CATEGORY_DIGIT: _Chars(_DIGITS),
    c.CATEGORY_SPACE: _Chars(_SPACES),
    c.CATEGORY_WORD: _Chars(_WORD),
    c.CATEGORY_NOT_DIGIT: _Chars(_DIGITS, negated=True),
    c.CATEGORY_NOT_SPACE: _Chars(_SPACES, negated=True),
    c.CATEGORY_NOT_WORD: _Chars(_WORD, negated=True),
}
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT))
_MAXREPEAT = c.MAXREPEAT


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack catastrophically, or ``None`` when it looks safe."""
    if len(pattern) > MAX_PATTERN:
        return f"is {len(pattern)} characters long; at most {MAX_PATTERN} are accepted"
    try:
        with warnings.catch_warnings():  # "possible nested set" and the like: not ours to say
            warnings.simplefilter("ignore")
            parsed = sre.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None  # not a valid pattern: the schema check says so
    return _seq(list(parsed), inside_repeat=False)


def _seq(items: list[Any], *, inside_repeat: bool) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            _, high, body = av
            body = list(body)
            if high > 1 and _can_be_empty(body):
                return "repeats a part that can match nothing, which backtracks catastrophically"
            if high > 1:
                risk = _ambiguous_split(body)
                if risk is not None:
                    return risk
            if high > 1 and _ambiguous_branch(body, _first_of_seq(body)):
                return (
                    "repeats alternatives that can match the same text, which"
                    " backtracks catastrophically; make them start differently"
                )
            found = _seq(body, inside_repeat=inside_repeat or high > 1)
            if found is not None:
                return found
        elif op is c.SUBPATTERN:
            found = _seq(list(av[-1]), inside_repeat=inside_repeat)
            if found is not None:
                return found
        elif op is c.BRANCH:
            for branch in av[1]:
                found = _seq(list(branch), inside_repeat=inside_repeat)
                if found is not None:
                    return found
        elif op in (c.ASSERT, c.ASSERT_NOT):
            found = _seq(list(av[1]), inside_repeat=inside_repeat)
            if found is not None:
                return found
    return None


def _ambiguous_split(body: list[Any]) -> str | None:
    """An unbounded quantifier in ``body`` (repeated) whose characters what follows it may
    also match: what comes next in ``body``, or the next pass of ``body`` itself."""
    for inner, follow in _unbounded(body, _first_of_seq(body)):
        if _first(inner).meets(follow):
            return (
                "nests quantifiers so that the text they match can be split between them in"
                " many ways, which backtracks catastrophically"
            )
    return None


def _unbounded(items: list[Any], after: _Chars) -> list[tuple[list[Any], _Chars]]:
    """Each unbounded repeat in ``items`` (not inside a nested repeat) with the characters
    that can come right after it; ``after`` is what can come after ``items``."""
    found: list[tuple[list[Any], _Chars]] = []
    for index, (op, av) in enumerate(items):
        rest = items[index + 1 :]
        follow = _first_of_seq(rest) | (after if _can_be_empty(rest) else _NONE)
        if op in _REPEATS and av[1] == _MAXREPEAT:
            found.append(([(op, av)], follow))
        elif op is c.SUBPATTERN:
            found.extend(_unbounded(list(av[-1]), follow))
        elif op is c.BRANCH:
            for branch in av[1]:
                found.extend(_unbounded(list(branch), follow))
    return found


def _ambiguous_branch(items: list[Any], after: _Chars) -> bool:
    """An alternation in ``items`` (not inside a nested repeat) with two ways to match the
    same text: branches that start alike, or two that match nothing, or one that matches
    nothing while another starts like what follows; ``after`` may follow ``items``."""
    for index, (op, av) in enumerate(items):
        rest = items[index + 1 :]
        follow = _first_of_seq(rest) | (after if _can_be_empty(rest) else _NONE)
        if op is c.SUBPATTERN and _ambiguous_branch(list(av[-1]), follow):
            return True
        if op is not c.BRANCH:
            continue
        seen = _NONE
        empty = 0
        for branch in av[1]:
            first = _first_of_seq(list(branch))
            if _can_be_empty(list(branch)):
                empty += 1
                first |= follow
            if seen.meets(first) or empty > 1 or _ambiguous_branch(list(branch), follow):
                return True
            seen |= first
    return False


def _first_of_seq(items: list[Any]) -> _Chars:
    """The characters that can start a match of ``items`` (``_ANY`` when unsure)."""
    result = _NONE
    for item in items:
        result |= _first([item])
        if not _can_be_empty([item]):
            break
    return result


def _first(items: list[Any]) -> _Chars:
    if not items:
        return _NONE
    op, av = items[0]
    if op is c.LITERAL:
        return _Chars(frozenset({av}))
    if op is c.NOT_LITERAL:
        return _Chars(frozenset({av}), negated=True)
    if op is c.IN:
        return _class(av)
    if op in _REPEATS:
        return _first_of_seq(list(av[2]))
    if op is c.SUBPATTERN:
        return _first_of_seq(list(av[-1]))
    if op is c.BRANCH:
        result = _NONE
        for branch in av[1]:
            result |= _first_of_seq(list(branch))
        return result
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return _NONE
    return _ANY  # ANY, NOT_LITERAL, back references, ...


def _class(items: list[Any]) -> _Chars:
    chars: set[int] = set()
    negated = False
    result = _NONE
    for op, av in items:
        if op is c.NEGATE:
            negated = True
        elif op is c.LITERAL:
            chars.add(av)
        elif op is c.RANGE and av[1] - av[0] < 4096:
            chars.update(range(av[0], av[1] + 1))
        elif op is c.CATEGORY and av in _CATEGORIES:
            result |= _CATEGORIES[av]
        else:
            return _ANY  # wide ranges, other categories: anything, to be safe
    result |= _Chars(frozenset(chars))
    if not negated:
        return result
    if result.negated:  # [^\S] and the like: say anything, to be safe
        return _ANY
    return _Chars(result.chars, negated=True)


def _can_be_empty(items: list[Any]) -> bool:
    for op, av in items:
        if op in _REPEATS:
            if av[0] > 0 and not _can_be_empty(list(av[2])):
                return False
        elif op is c.SUBPATTERN:
            if not _can_be_empty(list(av[-1])):
                return False
        elif op is c.BRANCH:
            if not any(_can_be_empty(list(b)) for b in av[1]):
                return False
        elif op not in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return False
    return True
