"""The envelope: one message on its way to one in-port of one component."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

# Outputs of upstream components of the same event, by component id then port.
Trail = dict[str, dict[str, Any]]

_EMPTY_TRAIL: Trail = {}


class _IdSource:
    """Unique ids, cheap enough for every envelope: a random per-process prefix + a counter.

    ``uuid4`` costs a system call per id, which showed up as a quarter of the engine's
    per-hop time. The prefix is drawn again in a forked child so parent and child never clash.
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    def number(self, identifier: str) -> int | None:
        """The counter of ``identifier`` when this process drew it since it last started (or
        forked), else None."""
        if len(identifier) != 32 or not identifier.startswith(self._prefix):
            return None
        try:
            return int(identifier[16:], 16)
        except ValueError:
            return None


new_id = _IdSource()
"""A new unique identifier (32 hex digits), cheap: for envelopes and records."""

new_event_id = _IdSource()
"""A new event id, the correlation id of everything the event causes (32 hex digits: 64
random bits drawn when the process starts, then a counter). ``new_event_id.number(id)`` tells
whether this process made ``id`` since it started, and when (see
:mod:`runtime.brokers.local_effects`)."""


class Envelope:
    """A message addressed to ``component_id``'s in-port ``port`` in flow ``flow_id``.

    ``correlation_id`` is born at the trigger and follows the whole chain. ``trail`` holds the
    outputs of the upstream components that templates downstream refer to; it is shared between
    envelopes and must be treated as read-only. ``attempt`` counts deliveries, starting at 1.
    ``first_failed_at`` is when the first of the current run of failed deliveries failed
    (what the retry time limit counts from); it means nothing while ``attempt`` is 1.
    ``id`` is drawn on first use: the in-memory hot path never needs it.
    """

    __slots__ = (
        "_id",
        "attempt",
        "component_id",
        "correlation_id",
        "created_at",
        "first_failed_at",
        "flow_id",
        "payload",
        "port",
        "trail",
    )

    def __init__(
        self,
        flow_id: str,
        component_id: str,
        port: str,
        payload: Any,
        correlation_id: str,
        trail: Trail | None = None,
        attempt: int = 1,
        id: str | None = None,
        created_at: float | None = None,
        first_failed_at: float | None = None,
    ) -> None:
        self._id = id
        self.flow_id = flow_id
        self.component_id = component_id
        self.port = port
        self.payload = payload
        self.correlation_id = correlation_id
        self.trail = _EMPTY_TRAIL if trail is None else trail
        self.attempt = attempt
        self.created_at = time.time() if created_at is None else created_at
        self.first_failed_at = first_failed_at

    @property
    def id(self) -> str:
        envelope_id = self._id
        if envelope_id is None:
            envelope_id = self._id = new_id()
        return envelope_id

    def to_dict(self) -> dict[str, Any]:
        """The envelope as plain JSON-ready data."""
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "component_id": self.component_id,
            "port": self.port,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
            "trail": self.trail,
            "attempt": self.attempt,
            "created_at": self.created_at,
            "first_failed_at": self.first_failed_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        """Rebuild an envelope from :meth:`to_dict` output."""
        return cls(
            id=str(data["id"]),
            flow_id=str(data["flow_id"]),
            component_id=str(data["component_id"]),
            port=str(data["port"]),
            correlation_id=str(data["correlation_id"]),
            payload=data.get("payload"),
            trail=dict(data.get("trail") or {}),
            attempt=int(data.get("attempt", 1)),
            created_at=float(data["created_at"]),
            first_failed_at=_optional_float(data.get("first_failed_at")),
        )

    def __repr__(self) -> str:
        return (
            f"Envelope(id={self.id!r}, flow={self.flow_id!r}, to={self.component_id}.{self.port},"
            f" correlation={self.correlation_id!r}, attempt={self.attempt})"
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
