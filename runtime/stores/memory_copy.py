"""The in-memory store's side of copying an installation (:mod:`runtime.stores.copy`): every
record of a kind as the rows the SQLite store's tables hold, or replaced by such rows. A mixin
of :class:`~runtime.stores.memory.MemoryStore`, so a test can copy between any two backends in
one process.

A kind's rows are all converted before any is kept, so a row that does not fit replaces
nothing. The columns a record derives from another (a dead letter's flow, component and
correlation id, which its envelope carries) are written from the record and not read back.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Final

from runtime.stores import codec
from runtime.stores.base import DeadLetter, EffectRecord
from runtime.stores.contracts import AccountRow, ConfigRow, FlowRow
from runtime.stores.copy import KINDS, Kind, Row, normalized

_KINDS: Final = frozenset(kind.name for kind in KINDS)


class MemoryCopyRows:
    """The :class:`~runtime.stores.copy.CopyableStore` part of the in-memory store."""

    _check_open: Callable[[], None]
    _config: dict[tuple[str, str], tuple[ConfigRow, float]]
    _accounts: dict[tuple[str, str], tuple[AccountRow, bytes]]
    _flows: dict[str, FlowRow]
    _hooks: dict[str, dict[str, str]]
    _state: dict[tuple[str, str, str], tuple[str, int, float]]
    _effects: dict[tuple[str, str, str, str], tuple[EffectRecord, str, str]]
    _letters: dict[str, tuple[DeadLetter, str, int]]
    _stored: itertools.count[int]
    _keys: dict[tuple[str, str, str], tuple[str, float]]

    async def dump_records(self, kind: Kind) -> list[Row]:
        self._check_open()
        return [normalized(kind, row) for row in self._rows(kind)]

    async def load_records(self, kind: Kind, rows: Sequence[Row]) -> None:
        self._check_open()
        if kind.name not in _KINDS:
            raise ValueError(f"the in-memory store keeps no records of kind {kind.name!r}")
        try:
            self._load([normalized(kind, row) for row in rows], kind.name)
        except (ValueError, TypeError) as exc:  # a malformed row: nothing was replaced
            raise ValueError(f"{kind.label}: a row the in-memory store cannot keep: {exc}") from exc

    def _load(self, rows: list[Row], kind: str) -> None:
        """Replace the records of ``kind`` by ``rows``, each kind in one assignment made once
        every row is converted."""
        if kind == "app_config":
            self._config = {(r[0], r[1]): (ConfigRow(r[0], r[1], r[2], r[3]), r[4]) for r in rows}
        elif kind == "accounts":
            self._accounts = {(r[0], r[1]): (_account(r), r[2]) for r in rows}
        elif kind == "flows":
            self._flows = {r[0]: FlowRow(*r) for r in rows}
        elif kind == "hooks":
            hooks: dict[str, dict[str, str]] = {}
            for flow_id, component_id, digest in rows:
                hooks.setdefault(flow_id, {})[component_id] = digest
            self._hooks = hooks
        elif kind == "state":
            self._state = {(r[0], r[1], r[2]): (r[3], r[5], r[4]) for r in rows}
        elif kind == "effects":
            self._effects = {(r[0], r[1], r[2], r[3]): _effect(r) for r in rows}
        elif kind == "dead_letters":
            letters = [(_letter(r), r[9]) for r in rows]  # oldest first, as dumped
            self._letters = {
                letter.id: (letter, text, next(self._stored)) for letter, text in letters
            }
        else:
            self._keys = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}

    async def count_records(self, kind: Kind) -> int:
        self._check_open()
        return len(self._rows(kind))

    def _rows(self, kind: Kind) -> list[Row]:
        if kind.name == "app_config":
            return [(*name, row.value, row.secret, at) for name, (row, at) in self._config.items()]
        if kind.name == "accounts":
            return [  # scopes as JSON text, as the SQL stores keep them
                (
                    r.service,
                    r.name,
                    sealed,
                    r.status,
                    json.dumps(list(r.scopes)),
                    r.expires_at,
                    r.reason,
                    r.updated_at,
                    r.version,
                )
                for r, sealed in self._accounts.values()
            ]
        if kind.name == "flows":
            return [(r.id, r.definition_json, r.status, r.updated_at) for r in self._flows.values()]
        if kind.name == "hooks":
            return [
                (flow_id, component_id, digest)
                for flow_id, hooks in self._hooks.items()
                for component_id, digest in hooks.items()
            ]
        if kind.name == "state":
            return [(*name, text, at, v) for name, (text, v, at) in self._state.items()]
        if kind.name == "effects":
            return [_effect_row(*kept) for kept in self._effects.values()]
        if kind.name == "dead_letters":
            kept = sorted(self._letters.values(), key=lambda k: (k[0].failed_at, k[2]))
            return [_letter_row(letter, text) for letter, text, _ in kept]
        if kind.name == "hook_keys":
            return [(*name, event_id, at) for name, (event_id, at) in self._keys.items()]
        raise ValueError(f"the in-memory store keeps no records of kind {kind.name!r}")


def _account(row: Row) -> AccountRow:
    service, name, _, status, scopes, expires_at, reason, updated_at, version = row
    return AccountRow(
        service, name, status, tuple(json.loads(scopes)), expires_at, updated_at, reason, version
    )


def _effect(row: Row) -> tuple[EffectRecord, str, str]:
    (flow, component, correlation, digest, updated_at, attempts, first_sent_at, uncertain,
     completed_at, result_json, ref, notes_json) = row  # fmt: skip
    record = EffectRecord(
        flow, component, correlation, digest, updated_at, attempts, first_sent_at, uncertain,
        completed_at, None, ref, {},
    )  # fmt: skip
    return record, result_json, notes_json


def _effect_row(record: EffectRecord, result_json: str, notes_json: str) -> Row:
    r = record
    return (
        r.flow_id, r.component_id, r.correlation_id, r.digest, r.updated_at, r.attempts,
        r.first_sent_at, r.uncertain, r.completed_at, result_json, r.ref, notes_json,
    )  # fmt: skip


def _letter(row: Row) -> DeadLetter:
    letter_id, _, _, _, error, error_type, attempts, failed_at, retry_requested, text = row
    envelope = codec.decode_envelope(text)
    return DeadLetter(letter_id, envelope, error, error_type, attempts, failed_at, retry_requested)


def _letter_row(letter: DeadLetter, text: str) -> Row:
    envelope = letter.envelope
    return (
        letter.id, envelope.flow_id, envelope.component_id, envelope.correlation_id,
        letter.error, letter.error_type, letter.attempts, letter.failed_at,
        letter.retry_requested, text,
    )  # fmt: skip
