"""The in-memory store's leases (see :mod:`runtime.stores.leases`); a mixin of
:class:`~runtime.stores.memory.MemoryStore`. Only one process sees them, so they arbitrate
between engines of one process (and the contract's tests); each call is one step on the loop."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from runtime.errors import LeaseLostError, StaleStateError
from runtime.stores.leases import Lease, check_lease_args, check_ttl

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from runtime.brokers.base import StateWrite


class MemoryLeaseRows:
    """The :class:`~runtime.stores.leases.LeaseStore` part of the in-memory store."""

    _check_open: Callable[[], None]
    _state: dict[tuple[str, str, str], tuple[str, int, float]]

    def __init__(self) -> None:
        super().__init__()
        self._leases: dict[str, Lease] = {}  # a released one keeps its token, expired

    async def acquire(self, name: str, owner: str, ttl: float) -> Lease | None:
        check_lease_args(name, owner, ttl)
        self._check_open()
        now = time.time()
        kept = self._leases.get(name)
        if kept is not None and kept.owner != owner and kept.expires_at > now:
            return None
        token = 1 if kept is None else kept.token + 1
        lease = self._leases[name] = Lease(name, owner, token, now + ttl)
        return lease

    async def renew(self, lease: Lease, ttl: float) -> bool:
        check_ttl(ttl)
        self._check_open()
        if not self._current(lease):
            return False
        self._leases[lease.name] = Lease(lease.name, lease.owner, lease.token, time.time() + ttl)
        return True

    async def release(self, lease: Lease) -> bool:
        self._check_open()
        if not self._current(lease):
            return False
        self._leases[lease.name] = Lease(lease.name, "", lease.token, 0.0)
        return True

    async def holder(self, name: str) -> Lease | None:
        self._check_open()
        kept = self._leases.get(name)
        return kept if kept is not None and kept.expires_at > time.time() else None

    async def commit_tick_state(self, writes: Sequence[StateWrite], lease: Lease) -> None:
        self._check_open()
        if not self._current(lease):
            raise LeaseLostError(lease.name, lease.token)
        for flow_id, component_id, key, _, expected in writes:  # all fences first: all or none
            found = self._state.get((flow_id, component_id, key))
            if expected is not None and expected != (0 if found is None else found[1]):
                raise StaleStateError(flow_id, component_id, key, expected)
        now = time.time()
        for flow_id, component_id, key, text, _ in writes:
            address = (flow_id, component_id, key)
            if text is None:
                self._state.pop(address, None)
                continue
            found = self._state.get(address)
            self._state[address] = (text, 1 if found is None else found[1] + 1, now)

    def _current(self, lease: Lease) -> bool:
        kept = self._leases.get(lease.name)
        return kept is not None and kept.owner == lease.owner and kept.token == lease.token
