"""The polling of one flow's triggers, driven by loop timers: no task while a trigger waits.

Each polling trigger ticks as the flow starts, then ``tick_interval`` seconds after the start of
its previous tick (or after the wait a tick asked for, see :func:`runtime.ticks.run_tick`). A
tick runs as a task of its own; between ticks a trigger holds one timer on the event loop and
nothing else, so ten thousand idle polling flows hold no task for their polling. A tick falling
due while the flow is paused waits for :meth:`Ticker.resume` and runs then.

With ``leases`` (a store shared by several processes, see :mod:`runtime.leases`) a trigger ticks
only while this process holds its lease: taken before the first tick, renewed on a timer of
its own, and given up at :meth:`Ticker.release`. When a renewal fails, or a tick's commit finds
the lease gone (:class:`~runtime.errors.LeaseLostError`), the trigger stops ticking here at once
and, like a trigger another process holds, tries to take the lease again every
``retry_every`` seconds. Without leases nothing of this runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime.errors import LeaseLostError
from runtime.leases import lease_name

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.lazy_event import LazyEvent
    from runtime.leases import TriggerLeases
    from runtime.node import Node
    from runtime.stores.leases import Lease


class Ticker:
    """When each polling trigger of one flow ticks next; ``tick`` runs one tick of a node (with
    the lease it holds, or None without leases) and returns the seconds it asked to wait, or
    None for its interval. ``resumed`` is the flow's flag, clear while it is paused (a tick due
    then waits for :meth:`resume`)."""

    __slots__ = (
        "_flow_id",
        "_held",
        "_leasing",
        "_resumed",
        "_running",
        "_stopped",
        "_tick",
        "_timers",
    )

    def __init__(
        self,
        flow_id: str,
        tick: Callable[[Node, Lease | None], Awaitable[float | None]],
        resumed: LazyEvent,
        leases: TriggerLeases | None = None,
    ) -> None:
        self._flow_id = flow_id
        self._tick = tick
        self._resumed = resumed
        self._timers: dict[Node, asyncio.TimerHandle] = {}
        self._running: dict[Node, asyncio.Task[None]] = {}
        self._held: list[Node] = []  # fell due while the flow was paused
        self._stopped = False
        # Made only with leases: ten thousand flows without pay nothing for them.
        self._leasing = None if leases is None else _Leasing(leases)

    def start(self, nodes: list[Node]) -> None:
        """Tick each of ``nodes`` now, then at its interval."""
        for node in nodes:
            self._due(node)

    def resume(self) -> None:
        """Run the ticks that fell due while the flow was paused."""
        held, self._held = self._held, []
        for node in held:
            self._due(node)

    def stop(self) -> list[asyncio.Task[None]]:
        """Tick no more; the ticks running now (the flow lets them finish, for a while)."""
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._held.clear()
        if self._leasing is not None:
            for timer in self._leasing.renewals.values():
                timer.cancel()
            self._leasing.renewals.clear()
        return list(self._running.values())

    async def release(self) -> None:
        """Give up the leases held (after :meth:`stop` and its ticks), so another process
        takes the triggers over at once rather than when the leases run out."""
        if self._leasing is None:
            return
        owned, self._leasing.owned = self._leasing.owned, {}
        for lease in owned.values():
            await self._leasing.leases.release(lease)

    def waiting(self) -> int:
        """How many triggers wait for their next tick (or their next try at the lease)."""
        return len(self._timers)

    def owned(self) -> int:
        """How many of the triggers' leases this process holds."""
        return 0 if self._leasing is None else len(self._leasing.owned)

    def _due(self, node: Node) -> None:
        self._timers.pop(node, None)
        if self._stopped:
            return
        if not self._resumed.is_set():
            self._held.append(node)
            return
        name = f"flowmixer:{self._flow_id}:{node.component_id}:tick"
        self._running[node] = asyncio.get_running_loop().create_task(self._run(node), name=name)

    async def _run(self, node: Node) -> None:
        loop = asyncio.get_running_loop()
        if not self._resumed.is_set():  # paused again before this tick began
            del self._running[node]
            self._held.append(node)
            return
        leasing = self._leasing
        lease = None
        if leasing is not None:
            lease = leasing.owned.get(node)
            if lease is None:
                lease = await self._take(leasing, node)
            if lease is None or self._stopped:
                del self._running[node]
                self._contend(leasing, node)
                return
        began = loop.time()
        try:
            asked = await self._tick(node, lease)
        except LeaseLostError:
            asked = None
            assert leasing is not None
            self._lose(leasing, node, lease)
        finally:
            del self._running[node]
        if leasing is not None and node not in leasing.owned:  # lost while ticking
            self._contend(leasing, node)
            return
        wait = (node.plan.tick_interval or 0.0) if asked is None else asked
        if not self._stopped:
            self._timers[node] = loop.call_at(began + wait, self._due, node)

    # -- leases ----------------------------------------------------------------------------

    async def _take(self, leasing: _Leasing, node: Node) -> Lease | None:
        timing = leasing.leases.timing(node.plan.tick_interval)
        name = lease_name(self._flow_id, node.component_id)
        lease = await leasing.leases.acquire(name, timing)
        if lease is not None:
            leasing.owned[node] = lease  # even once stopped: release() gives it up
            if not self._stopped:
                self._renew_later(leasing, node)
        return lease

    def _contend(self, leasing: _Leasing, node: Node) -> None:
        """Try for the lease again later (another process holds it, or this one lost it)."""
        if self._stopped or node in self._timers or node in self._running:
            return
        every = leasing.leases.timing(node.plan.tick_interval).retry_every
        self._timers[node] = asyncio.get_running_loop().call_later(every, self._due, node)

    def _renew_later(self, leasing: _Leasing, node: Node) -> None:
        every = leasing.leases.timing(node.plan.tick_interval).renew_every
        loop = asyncio.get_running_loop()
        leasing.renewals[node] = loop.call_later(every, self._renew_due, leasing, node)

    def _renew_due(self, leasing: _Leasing, node: Node) -> None:
        leasing.renewals.pop(node, None)
        lease = leasing.owned.get(node)
        if self._stopped or lease is None:
            return
        task = asyncio.get_running_loop().create_task(self._renew(leasing, node, lease))
        leasing.renewing.add(task)  # a strong reference until it is done
        task.add_done_callback(leasing.renewing.discard)

    async def _renew(self, leasing: _Leasing, node: Node, lease: Lease) -> None:
        timing = leasing.leases.timing(node.plan.tick_interval)
        kept = await leasing.leases.renew(lease, timing)
        if leasing.owned.get(node) is not lease:  # released or lost meanwhile
            return
        if kept:
            if not self._stopped:
                self._renew_later(leasing, node)
            return
        self._lose(leasing, node, lease)
        if node not in self._held:  # a paused flow takes it again when it resumes
            self._contend(leasing, node)

    def _lose(self, leasing: _Leasing, node: Node, lease: Lease | None) -> None:
        """Stop ticking ``node`` here: its lease passed to another process (or was lost)."""
        if lease is None or leasing.owned.get(node) is not lease:
            return
        del leasing.owned[node]
        for timers in (self._timers, leasing.renewals):
            timer = timers.pop(node, None)
            if timer is not None:
                timer.cancel()
        node.logger.info("polling stopped here: the trigger's lease was lost", token=lease.token)


class _Leasing:
    """What a :class:`Ticker` keeps of its triggers' leases: those this process holds, the
    timers of their renewals and the renewals under way."""

    __slots__ = ("leases", "owned", "renewals", "renewing")

    def __init__(self, leases: TriggerLeases) -> None:
        self.leases = leases
        self.owned: dict[Node, Lease] = {}
        self.renewals: dict[Node, asyncio.TimerHandle] = {}
        self.renewing: set[asyncio.Task[None]] = set()
