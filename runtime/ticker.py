"""The polling of one flow's triggers, driven by loop timers: no task while a trigger waits.

Each polling trigger ticks as the flow starts, then ``tick_interval`` seconds after the start of
its previous tick (or after the wait a tick asked for, see :func:`runtime.ticks.run_tick`). A
tick runs as a task of its own; between ticks a trigger holds one timer on the event loop and
nothing else, so ten thousand idle polling flows hold no task for their polling. A tick falling
due while the flow is paused waits for :meth:`Ticker.resume` and runs then.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.lazy_event import LazyEvent
    from runtime.node import Node


class Ticker:
    """When each polling trigger of one flow ticks next; ``tick`` runs one tick of a node and
    returns the seconds it asked to wait, or None for its interval. ``resumed`` is the flow's
    flag, clear while it is paused (a tick due then waits for :meth:`resume`)."""

    __slots__ = ("_flow_id", "_held", "_resumed", "_running", "_stopped", "_tick", "_timers")

    def __init__(
        self,
        flow_id: str,
        tick: Callable[[Node], Awaitable[float | None]],
        resumed: LazyEvent,
    ) -> None:
        self._flow_id = flow_id
        self._tick = tick
        self._resumed = resumed
        self._timers: dict[Node, asyncio.TimerHandle] = {}
        self._running: dict[Node, asyncio.Task[None]] = {}
        self._held: list[Node] = []  # fell due while the flow was paused
        self._stopped = False

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
        return list(self._running.values())

    def waiting(self) -> int:
        """How many triggers wait for their next tick on a timer."""
        return len(self._timers)

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
        began = loop.time()
        try:
            asked = await self._tick(node)
        finally:
            del self._running[node]
        wait = (node.plan.tick_interval or 0.0) if asked is None else asked
        if not self._stopped:
            self._timers[node] = loop.call_at(began + wait, self._due, node)
