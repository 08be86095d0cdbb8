"""The store contracts: component state, dead letters, the records of effects and the
idempotency keys of webhook events."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields
from typing import Any, Final, Protocol

from runtime.envelope import Envelope
from runtime.stores.letters import EVERY_LETTER, DeadLetterCount, DeadLetterPage, DeadLetterQuery


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


@dataclass(frozen=True, slots=True)
class VersionedState:
    """A state value with its version: the count of its writes since it was last absent (0:
    absent, ``value`` None). A write expecting that version fails once another was made."""

    value: Any
    version: int


class StateStore(Protocol):
    """Persistent per-component key/value state (values are JSON data)."""

    async def get_state(self, flow_id: str, component_id: str, key: str) -> Any: ...

    async def get_versioned_state(
        self, flow_id: str, component_id: str, key: str
    ) -> VersionedState: ...

    async def set_state(
        self,
        flow_id: str,
        component_id: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> None:
        """Store ``value``; with ``expected_version``, only while the stored version is that one
        (checked and written atomically), :class:`~runtime.errors.StaleStateError` otherwise."""
        ...

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

    async def requested_retries(self, flow_id: str) -> list[DeadLetter]:
        """The dead letters of ``flow_id`` marked for retry, oldest first, left in place (the
        caller deletes each once it is delivered again, so a crash in between loses none)."""
        ...

    async def find_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER, *, limit: int = 100, cursor: str | None = None
    ) -> DeadLetterPage:
        """A page of at most ``limit`` letters matching ``query``, newest first, starting after
        ``cursor`` (a page's ``next``; ``ValueError`` for anything else)."""
        ...

    async def count_dead_letters(
        self, query: DeadLetterQuery = EVERY_LETTER
    ) -> list[DeadLetterCount]:
        """How many letters match ``query``, per flow, component and error type (sorted so)."""
        ...

    async def request_retries(self, query: DeadLetterQuery) -> int:
        """Mark every letter matching ``query`` for delivery at its flow's next start; how many."""
        ...

    async def delete_dead_letters(self, query: DeadLetterQuery) -> int:
        """Delete every letter matching ``query``; returns how many went."""
        ...


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """What the effects ledger knows of one effect (see :mod:`runtime.effects`).

    An effect is named by ``(flow_id, component_id, correlation_id, digest)``, ``digest`` being
    that of the component's input. ``attempts`` counts the times it was sent, ``first_sent_at``
    is when it was first sent (None: not yet), ``uncertain`` says an attempt may have taken
    effect without the answer being known, ``completed_at``/``result`` are set once it is done
    and ``ref`` then names the object it made. ``notes`` keep progress (JSON data).
    """

    flow_id: str
    component_id: str
    correlation_id: str
    digest: str
    updated_at: float
    attempts: int = 0
    first_sent_at: float | None = None
    uncertain: bool = False
    completed_at: float | None = None
    result: Any = None
    ref: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.completed_at is not None

    def changed(self, **changes: Any) -> EffectRecord:
        """A copy with ``changes``: ``dataclasses.replace`` at a third of its cost (it runs
        twice per effect on the hot path); an unknown name raises ``TypeError`` as it does."""
        unknown = changes.keys() - _EFFECT_FIELDS
        if unknown:
            raise TypeError(f"EffectRecord has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(EffectRecord)
        for name in _EFFECT_FIELDS:
            object.__setattr__(
                copy, name, changes[name] if name in changes else getattr(self, name)
            )
        return copy


_EFFECT_FIELDS: Final = tuple(f.name for f in fields(EffectRecord))


class EffectStore(Protocol):
    """Where the effects ledger keeps its records; values are JSON data, read back as copies."""

    async def get_effect(
        self, flow_id: str, component_id: str, correlation_id: str, digest: str
    ) -> EffectRecord | None: ...

    async def put_effect(self, record: EffectRecord) -> None:
        """Keep ``record``, replacing the one with the same name."""
        ...

    async def claim_effect(self, record: EffectRecord) -> bool:
        """Keep ``record`` (an attempt about to send) only if no record of its name is kept,
        or the kept one is not done and has ``record.attempts - 1`` attempts; whether it was
        kept. Of two claims of the same attempt, even from two processes, exactly one wins."""
        ...

    async def claimed_refs(self, refs: Collection[str]) -> set[str]:
        """Those of ``refs`` that some completed effect made (its ``ref``)."""
        ...

    async def prune_effects(self, before: float, *, uncertain_before: float | None = None) -> int:
        """Forget the records last changed before ``before``, but uncertain ones only when
        last changed before ``uncertain_before`` (default ``before``); returns how many went."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A webhook caller's ``Idempotency-Key`` (``value``) and the start of its window
    (``since``, epoch seconds): a record of the same key made before then no longer counts."""

    value: str
    since: float


class HookKeyStore(Protocol):
    """The idempotency keys of webhook events, per flow and webhook trigger."""

    async def find_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey
    ) -> str | None:
        """The id of the event ``key`` was recorded with within its window, or ``None``."""
        ...

    async def add_hook_key(
        self, flow_id: str, component_id: str, key: IdempotencyKey, event_id: str
    ) -> None:
        """Record ``key`` for ``event_id`` (replacing a record older than its window);
        :class:`~runtime.errors.DuplicateEventError` if it names another event within it."""
        ...

    async def prune_hook_keys(self, before: float) -> int:
        """Forget the keys recorded before ``before``; how many went."""
        ...

    async def delete_hook_keys(self, flow_id: str) -> int:
        """Forget every key of ``flow_id`` (the flow is deleted); how many went."""
        ...


class Store(StateStore, DeadLetterStore, EffectStore, HookKeyStore, Protocol):
    """Everything the engine persists."""

    async def close(self) -> None: ...
