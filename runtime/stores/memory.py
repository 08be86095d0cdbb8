"""An in-memory store for tests and benchmarks: fast, gone when the process ends."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from runtime.errors import DuplicateEventError, StaleStateError
from runtime.stores import codec
from runtime.stores.base import DeadLetter, EffectRecord, IdempotencyKey, VersionedState
from runtime.stores.letters import (
    EVERY_LETTER,
    DeadLetterCount,
    DeadLetterPage,
    DeadLetterQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from runtime.stores.memory_auth import MemoryAuthRows
from runtime.stores.memory_copy import MemoryCopyRows
from runtime.stores.memory_deployments import MemoryDeploymentRows
from runtime.stores.memory_leases import MemoryLeaseRows


class MemoryStore(MemoryAuthRows, MemoryDeploymentRows, MemoryCopyRows, MemoryLeaseRows):
    """A :class:`~runtime.stores.base.Store` (and the auth and server records of
    :mod:`runtime.stores.contracts`) in dictionaries.

    Values are kept as JSON text, so callers can never change stored state by mutating what
    they passed in or got back, and the JSON rules are the same as in the SQLite store.
    """

    def __init__(self) -> None:
        super().__init__()
        # -> (JSON, version, when written)
        self._state: dict[tuple[str, str, str], tuple[str, int, float]] = {}
        # id -> (letter, its envelope as JSON, storing sequence); the letter's own envelope is
        # never handed out. The sequence orders letters failing at the same time, like rowid.
        self._letters: dict[str, tuple[DeadLetter, str, int]] = {}
        self._stored = itertools.count(1)
        # name -> (record without its JSON values, result as JSON, notes as JSON)
        self._effects: dict[tuple[str, str, str, str], tuple[EffectRecord, str, str]] = {}
        self._keys: dict[tuple[str, str, str], tuple[str, float]] = {}  # -> (event id, when)
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")

    # -- state ------------------------------------------------------------------------------

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any:
        self._check_open()
        found = self._state.get((flow_id, component_id, key))
        return None if found is None else codec.decode(found[0])

    async def get_versioned_state(
        self, flow_id: str, component_id: str, key: str
    ) -> VersionedState:
        self._check_open()
        found = self._state.get((flow_id, component_id, key))
        if found is None:
            return VersionedState(None, 0)
        return VersionedState(codec.decode(found[0]), found[1])

    async def set_state(
        self,
        flow_id: str,
        component_id: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._check_open()
        text = codec.encode_state(key, value)
        address = (flow_id, component_id, key)
        found = self._state.get(address)
        version = 0 if found is None else found[1]
        if expected_version is not None and expected_version != version:
            raise StaleStateError(flow_id, component_id, key, expected_version)
        self._state[address] = (text, version + 1, time.time())

    async def delete_state(self, flow_id: str, component_id: str, key: str) -> None:
        self._check_open()
        self._state.pop((flow_id, component_id, key), None)

    async def delete_flow_state(self, flow_id: str) -> int:
        self._check_open()
        doomed = [address for address in self._state if address[0] == flow_id]
        for address in doomed:
            del self._state[address]
        return len(doomed)

    # -- dead letters -----------------------------------------------------------------------

    def _thaw(self, letter_id: str) -> DeadLetter:
        letter, envelope_json, _ = self._letters[letter_id]
        return replace(letter, envelope=codec.decode_envelope(envelope_json))

    def _newest_first(self, query: DeadLetterQuery = EVERY_LETTER) -> list[tuple[DeadLetter, int]]:
        """The letters ``query`` matches with their storing sequence, in the listing order."""
        found = [
            (letter, seq) for letter, _, seq in self._letters.values() if query.matches(letter)
        ]
        found.sort(key=lambda kept: (kept[0].failed_at, kept[1]), reverse=True)
        return found

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep ``letter``; one with the same id is replaced."""
        self._check_open()
        envelope_json = codec.encode_envelope(letter.envelope)
        self._letters.pop(letter.id, None)
        self._letters[letter.id] = (letter, envelope_json, next(self._stored))

    async def list_dead_letters(
        self, *, flow_id: str | None = None, component_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally of one flow and/or component."""
        query = DeadLetterQuery(flow_id=flow_id, component_id=component_id)
        return (await self.find_dead_letters(query, limit=limit)).letters

    async def find_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER, *, limit: int = 100, cursor: str | None = None
    ) -> DeadLetterPage:
        self._check_open()
        check_limit(limit)
        found = self._newest_first(query)
        if cursor is not None:
            after = decode_cursor(cursor)
            found = [kept for kept in found if (kept[0].failed_at, kept[1]) < after]
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last, seq = page[-1]
            next_cursor = encode_cursor(last.failed_at, seq)
        return DeadLetterPage([self._thaw(letter.id) for letter, _ in page], next_cursor)

    async def count_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER
    ) -> list[DeadLetterCount]:
        self._check_open()
        counts = Counter(
            (letter.flow_id, letter.component_id, letter.error_type)
            for letter, _, _ in self._letters.values()
            if query.matches(letter)
        )
        return [DeadLetterCount(*key, count) for key, count in sorted(counts.items())]

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        self._check_open()
        return self._thaw(letter_id) if letter_id in self._letters else None

    async def delete_dead_letter(self, letter_id: str) -> bool:
        self._check_open()
        return self._letters.pop(letter_id, None) is not None

    async def delete_dead_letters(self, query: DeadLetterQuery) -> int:
        self._check_open()
        doomed = [letter.id for letter, _ in self._newest_first(query)]
        for letter_id in doomed:
            del self._letters[letter_id]
        return len(doomed)

    async def request_retry(self, letter_id: str) -> bool:
        self._check_open()
        if letter_id not in self._letters:
            return False
        letter, envelope_json, seq = self._letters[letter_id]
        self._letters[letter_id] = (replace(letter, retry_requested=True), envelope_json, seq)
        return True

    async def request_retries(self, query: DeadLetterQuery) -> int:
        self._check_open()
        chosen = self._newest_first(query)
        for letter, _ in chosen:
            await self.request_retry(letter.id)
        return len(chosen)

    async def requested_retries(self, flow_id: str) -> list[DeadLetter]:
        self._check_open()
        return [
            self._thaw(letter.id)
            for letter, _ in reversed(self._newest_first(DeadLetterQuery(flow_id=flow_id)))
            if letter.retry_requested
        ]

    async def take_retries(self, flow_id: str) -> list[DeadLetter]:
        """Remove and return ``flow_id``'s letters marked for retry, oldest first."""
        self._check_open()
        chosen = [
            letter
            for letter, _ in reversed(self._newest_first(DeadLetterQuery(flow_id=flow_id)))
            if letter.retry_requested
        ]
        taken = [self._thaw(letter.id) for letter in chosen]
        for letter in chosen:
            del self._letters[letter.id]
        return taken

    # -- effects ------------------------------------------------------------------------------

    async def get_effect(
        self, flow_id: str, component_id: str, correlation_id: str, digest: str
    ) -> EffectRecord | None:
        self._check_open()
        kept = self._effects.get((flow_id, component_id, correlation_id, digest))
        if kept is None:
            return None
        record, result_json, notes_json = kept
        return replace(record, result=codec.decode(result_json), notes=codec.decode(notes_json))

    async def put_effect(self, record: EffectRecord) -> None:
        self._check_open()
        name = (record.flow_id, record.component_id, record.correlation_id, record.digest)
        result_json = codec.encode_state("result", record.result)
        notes_json = codec.encode_state("notes", record.notes)
        self._effects[name] = (replace(record, result=None, notes={}), result_json, notes_json)

    async def claim_effect(self, record: EffectRecord) -> bool:
        self._check_open()
        name = (record.flow_id, record.component_id, record.correlation_id, record.digest)
        kept = self._effects.get(name)
        if kept is not None and (kept[0].done or kept[0].attempts != record.attempts - 1):
            return False
        await self.put_effect(record)
        return True

    async def claimed_refs(self, refs: Collection[str]) -> set[str]:
        self._check_open()
        wanted = set(refs)
        return {
            r.ref for r, _, _ in self._effects.values() if r.ref is not None and r.ref in wanted
        }

    async def prune_effects(self, before: float, *, uncertain_before: float | None = None) -> int:
        self._check_open()
        kept = before if uncertain_before is None else uncertain_before
        doomed = [
            name
            for name, (r, _, _) in self._effects.items()
            if r.updated_at < (kept if r.uncertain else before)
        ]
        for name in doomed:
            del self._effects[name]
        return len(doomed)

    # -- idempotency keys of webhook events ------------------------------------------------

    async def find_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey
    ) -> str | None:
        self._check_open()
        found = self._keys.get((flow_id, component_id, key.value))
        return found[0] if found is not None and found[1] >= key.since else None

    async def add_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey, event_id: str
    ) -> None:
        self._check_open()
        name = (flow_id, component_id, key.value)
        found = self._keys.get(name)
        if found is not None and found[1] >= key.since:
            raise DuplicateEventError(found[0])
        self._keys[name] = (event_id, time.time())

    async def prune_hook_keys(self, before: float) -> int:
        self._check_open()
        doomed = [name for name, (_, at) in self._keys.items() if at < before]
        for name in doomed:
            del self._keys[name]
        return len(doomed)

    async def delete_hook_keys(self, flow_id: str) -> int:
        self._check_open()
        doomed = [name for name in self._keys if name[0] == flow_id]
        for name in doomed:
            del self._keys[name]
        return len(doomed)

    async def close(self) -> None:
        """Refuse further use; the data is dropped with the object."""
        self._closed = True
