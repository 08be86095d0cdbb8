"""An in-memory store for tests and benchmarks: fast, gone when the process ends."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from runtime.stores import codec
from runtime.stores.base import DeadLetter


def _check_limit(limit: int) -> None:
    """Refuse a ``list_dead_letters`` limit below one."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


class MemoryStore:
    """A :class:`~runtime.stores.base.Store` in dictionaries.

    Values are kept as JSON text, so callers can never change stored state by mutating what
    they passed in or got back, and the JSON rules are the same as in the SQLite store.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, str, str], str] = {}
        # id -> (letter, its envelope as JSON); the letter's own envelope is never handed out.
        self._letters: dict[str, tuple[DeadLetter, str]] = {}
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")

    # -- state ------------------------------------------------------------------------------

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any:
        self._check_open()
        text = self._state.get((flow_id, component_id, key))
        return None if text is None else codec.decode(text)

    async def set_state(self, flow_id: str, component_id: str, key: str, value: Any) -> None:
        self._check_open()
        self._state[(flow_id, component_id, key)] = codec.encode_state(key, value)

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
        letter, envelope_json = self._letters[letter_id]
        return replace(letter, envelope=codec.decode_envelope(envelope_json))

    def _newest_first(self) -> list[DeadLetter]:
        # Reversed insertion order first, so letters failing at the same instant list last-in
        # first; the sort is stable.
        letters = [letter for letter, _ in reversed(self._letters.values())]
        return sorted(letters, key=lambda letter: letter.failed_at, reverse=True)

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep ``letter``; one with the same id is replaced."""
        self._check_open()
        envelope_json = codec.encode_envelope(letter.envelope)
        self._letters.pop(letter.id, None)
        self._letters[letter.id] = (letter, envelope_json)

    async def list_dead_letters(
        self, *, flow_id: str | None = None, component_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally of one flow and/or component."""
        self._check_open()
        _check_limit(limit)
        found: list[DeadLetter] = []
        for letter in self._newest_first():
            if flow_id is not None and letter.flow_id != flow_id:
                continue
            if component_id is not None and letter.component_id != component_id:
                continue
            found.append(self._thaw(letter.id))
            if len(found) == limit:
                break
        return found

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        self._check_open()
        return self._thaw(letter_id) if letter_id in self._letters else None

    async def delete_dead_letter(self, letter_id: str) -> bool:
        self._check_open()
        return self._letters.pop(letter_id, None) is not None

    async def request_retry(self, letter_id: str) -> bool:
        self._check_open()
        if letter_id not in self._letters:
            return False
        letter, envelope_json = self._letters[letter_id]
        self._letters[letter_id] = (replace(letter, retry_requested=True), envelope_json)
        return True

    async def take_retries(self, flow_id: str) -> list[DeadLetter]:
        """Remove and return ``flow_id``'s letters marked for retry, oldest first."""
        self._check_open()
        chosen = [
            letter
            for letter in reversed(self._newest_first())
            if letter.flow_id == flow_id and letter.retry_requested
        ]
        taken = [self._thaw(letter.id) for letter in chosen]
        for letter in chosen:
            del self._letters[letter.id]
        return taken

    async def close(self) -> None:
        """Refuse further use; the data is dropped with the object."""
        self._closed = True
