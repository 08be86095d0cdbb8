"""What the code that calls services reports, for ``/metrics`` and for nobody when unobserved.

The engine hands one :class:`Telemetry` to every component (``context.telemetry``) and reports
each dead letter it stores to it; the auth provider reports its refreshes to the same one.
``flowmixer serve`` passes its :class:`~runtime.server.metrics.Metrics`; elsewhere
:data:`NO_TELEMETRY` discards everything.
"""

from __future__ import annotations

from typing import Final, Protocol


class Telemetry(Protocol):
    """Counts of the calls made to services and of dead letters (cheap; they never raise)."""

    def api_call(self, service: str, status: int | str) -> None:
        """One call to ``service``, answered with HTTP ``status`` (or ``"error"``: no answer)."""
        ...

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        """A call to ``service`` waited ``seconds`` for its rate limit (quota or 429)."""
        ...

    def token_refresh(self, service: str, *, ok: bool) -> None:
        """An access token of ``service`` was refreshed (``ok``) or the refresh failed."""
        ...

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        """A message of ``component_id`` in ``flow_id`` was stored as a dead letter."""
        ...

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        """The event loop stalled while ``component_id`` ran (both ``""`` when unknown); called
        from the watching thread (:mod:`runtime.loop_watch`)."""
        ...


class _NoTelemetry:
    __slots__ = ()

    def api_call(self, service: str, status: int | str) -> None:
        return None

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        return None

    def token_refresh(self, service: str, *, ok: bool) -> None:
        return None

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        return None

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        return None


NO_TELEMETRY: Final[Telemetry] = _NoTelemetry()
"""Telemetry that keeps nothing."""
