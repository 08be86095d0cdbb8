"""The store contracts: component state and dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from runtime.envelope import Envelope


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An envelope that could not be handled, with why and after how many attempts."""

    id: str
    envelope: Envelope
    error: str
    error_type: str
    attempts: int
    failed_at: float
    # True once someone asked for it to be delivered again at the flow's next start
    retry_requested: bool = False

    @property
    def flow_id(self) -> str:
        return self.envelope.flow_id

    @property
    def component_id(self) -> str:
        return self.envelope.component_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "component_id": self.component_id,
            "error": self.error,
            "error_type": self.error_type,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
            "retry_requested": self.retry_requested,
            "envelope": self.envelope.to_dict(),
        }


class StateStore(Protocol):
    """Persistent per-component key/value state (values are JSON data)."""

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any: ...

    async def set_state(self, flow_id: str, component_id: str, key: str, value: Any) -> None: ...

    async def delete_state(self, flow_id: str, component_id: str, key: str) -> None: ...

    async def delete_flow_state(self, flow_id: str) -> int:
        """Forget the state of every component of ``flow_id``; returns how many keys went."""
        ...


class DeadLetterStore(Protocol):
    """Where envelopes go that could not be handled."""

    async def add_dead_letter(self, letter: DeadLetter) -> None: ...

    async def list_dead_letters(
        self, *, flow_id: str | None = None, component_id: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None: ...

    async def delete_dead_letter(self, letter_id: str) -> bool: ...

    async def request_retry(self, letter_id: str) -> bool:
        """Mark a dead letter for delivery at the next start of its flow; False if unknown."""
        ...

    async def take_retries(self, flow_id: str) -> list[DeadLetter]:
        """Remove and return the dead letters of ``flow_id`` marked for retry."""
        ...


class Store(StateStore, DeadLetterStore, Protocol):
    """Everything the engine persists."""

    async def close(self) -> None: ...
