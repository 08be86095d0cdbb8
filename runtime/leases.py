"""Which process ticks each polling trigger when several share one database: the leases of one
process's triggers, and their timing.

A trigger's lease is named ``tick:<flow id>/<component id>`` and held by the process's owner
id (``host:pid:random``, :func:`process_owner`). The promise is the takeover bound: when the
owner dies, another process ticks the trigger within ``bound = max(tick interval, 30 s)``. So a
lease lasts ``ttl = bound / 2``, its owner renews it every ``ttl / 3`` (a renewal may be late
twice before the lease runs out), and a process that does not hold it tries to take it every
``bound / 4``: a dead owner's lease runs out at most ``ttl`` after its last renewal, and a
contender takes it at most ``bound / 4`` later, ``3/4`` of the bound in all.

Store errors while taking or renewing count as not holding: a process that cannot reach the
database stops ticking rather than tick beside the next owner.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import structlog

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.stores.leases import Lease, LeaseStore

TAKEOVER_FLOOR: Final = 30.0
"""The least takeover bound, in seconds, whatever the tick interval."""


def process_owner() -> str:
    """A new owner id for this process: ``host:pid:random`` (random: a pid is reused after a
    restart, and the dead process's leases must not pass for the new one's)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_name(flow_id: str, component_id: str) -> str:
    """The lease of a polling trigger (a flow id never holds ``/``)."""
    return f"tick:{flow_id}/{component_id}"


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How long a lease lasts (``ttl``), how often its owner renews it, and how often a process
    that does not hold it tries to take it (``retry_every``), in seconds."""

    ttl: float
    renew_every: float
    retry_every: float

    @classmethod
    def for_interval(cls, interval: float | None, floor: float = TAKEOVER_FLOOR) -> LeaseTiming:
        bound = max(interval or 0.0, floor)
        ttl = bound / 2
        return cls(ttl=ttl, renew_every=ttl / 3, retry_every=bound / 4)


class TriggerLeases:
    """The leases of one process's polling triggers, kept in ``store`` under ``owner``.

    ``floor`` is the least takeover bound (:data:`TAKEOVER_FLOOR`; tests shorten it).
    """

    def __init__(
        self,
        store: LeaseStore,
        owner: str,
        *,
        floor: float = TAKEOVER_FLOOR,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        if floor <= 0:
            raise ValueError(f"floor: must be more than 0 seconds, got {floor!r}")
        self.store = store
        self.owner = owner
        self._floor = floor
        self._logger: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.leases")

    def timing(self, interval: float | None) -> LeaseTiming:
        """The timing of the lease of a trigger ticking every ``interval`` seconds."""
        return LeaseTiming.for_interval(interval, self._floor)

    async def acquire(self, name: str, timing: LeaseTiming) -> Lease | None:
        """The lease of ``name`` when this process has or can take it; ``None`` while another
        process holds it, or when the store cannot be reached."""
        try:
            return await self.store.acquire(name, self.owner, timing.ttl)
        except Exception as exc:  # unreachable store: not ours until it answers
            self._logger.debug("lease not taken", lease=name, error=_describe(exc))
            return None

    async def renew(self, lease: Lease, timing: LeaseTiming) -> bool:
        """Whether ``lease`` is still this process's (renewed for another ``ttl``)."""
        try:
            return await self.store.renew(lease, timing.ttl)
        except Exception as exc:
            self._logger.debug("lease not renewed", lease=lease.name, error=_describe(exc))
            return False

    async def release(self, lease: Lease) -> None:
        """Give ``lease`` up so another process may take it at once; a failure only leaves it
        to run out."""
        try:
            await self.store.release(lease)
        except Exception as exc:
            self._logger.debug("lease not released", lease=lease.name, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
