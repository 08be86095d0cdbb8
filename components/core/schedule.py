"""Schedule: a polling trigger that fires on its interval and counts its ticks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.core.clock import utc_now
from runtime.component import Component

if TYPE_CHECKING:
    from runtime.component import Context

TICK_KEY = "tick"


class Schedule(Component):
    """Sends ``{"firedAt", "tick"}`` plus the ``payload`` property on every tick.

    ``tick`` counts from 1 across restarts of the flow: the count lives in the component's
    state. The engine drives the interval (property ``interval``) and never overlaps ticks.
    """

    def __init__(self) -> None:
        self._count = 0
        self._payload: dict[str, Any] = {}

    async def start(self, context: Context) -> None:
        self._count = int(await context.state.get(TICK_KEY, 0))
        self._payload = dict(context.properties.get("payload") or {})

    async def tick(self, context: Context) -> None:
        self._count += 1
        # Stored before sending: a failed send skips a number rather than repeating one.
        await context.state.set(TICK_KEY, self._count)
        await context.send({**self._payload, "firedAt": utc_now(), "tick": self._count})
