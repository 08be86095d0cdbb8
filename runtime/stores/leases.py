"""The lease contract: which process may act for a named thing (a polling trigger), for how long.

A lease is granted to one ``owner`` at a time, for ``ttl`` seconds from the grant or the last
renewal. Its ``token`` grows by one at every grant, so it strictly increases on every change of
owner: a write fenced by the token (:meth:`LeaseStore.commit_tick_state`, and the durable
brokers' ``commit_unit``) is refused once another owner holds the name, even when the old
owner has not noticed yet. A released or expired lease keeps its token, so the next grant is
still greater. Every call is one atomic step in the store, across processes.

Expiry is judged by the store's clock (PostgreSQL's, for every machine at once), never by the
caller's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runtime.brokers.base import StateWrite


@dataclass(frozen=True, slots=True)
class Lease:
    """A grant of ``name`` to ``owner`` with its fencing ``token``, until ``expires_at`` (epoch
    seconds by the store's clock, as of the grant or renewal that returned it)."""

    name: str
    owner: str
    token: int
    expires_at: float


class LeaseStore(Protocol):
    """Leases of named things among every process sharing the store."""

    async def acquire(self, name: str, owner: str, ttl: float) -> Lease | None:
        """Grant ``name`` to ``owner`` for ``ttl`` seconds with a new, greater token when it is
        free, expired or already ``owner``'s; ``None`` while another owner holds it."""
        ...

    async def renew(self, lease: Lease, ttl: float) -> bool:
        """Extend ``lease`` to ``ttl`` seconds from now (same token) while its owner still
        holds it with that token, expired or not (no other owner took it since); whether it
        was extended."""
        ...

    async def release(self, lease: Lease) -> bool:
        """Give ``lease`` up now (if still held with its token), keeping the token; whether it
        was released."""
        ...

    async def holder(self, name: str) -> Lease | None:
        """The lease of ``name`` while it is held and unexpired; ``None`` otherwise."""
        ...

    async def commit_tick_state(self, writes: Sequence[StateWrite], lease: Lease) -> None:
        """Apply a tick's state ``writes`` all or none, in one transaction that also checks that
        ``lease`` still holds its name with its token: :class:`~runtime.errors.LeaseLostError`
        when not, :class:`~runtime.errors.StaleStateError` for a stale version; nothing is
        written then."""
        ...


def check_lease_args(name: str, owner: str, ttl: float) -> None:
    """Refuse what no store can keep: an empty name or owner, or a ttl that is not a positive,
    finite number of seconds."""
    if not name:
        raise ValueError("lease name: must not be empty")
    if not owner:
        raise ValueError("lease owner: must not be empty")
    check_ttl(ttl)


def check_ttl(ttl: float) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
        raise ValueError(f"lease ttl: must be a finite number of seconds, got {ttl!r}")
    if ttl <= 0:
        raise ValueError(f"lease ttl: must be more than 0 seconds, got {ttl!r}")
