"""A running flow with a polling trigger, for trigger tests: what it sent, and its ticks."""

from __future__ import annotations

import asyncio

from runtime.engine import Engine, Output


class Run:
    """A running flow: its outputs, and a way to wait for the ticks of its trigger ``node``."""

    def __init__(
        self,
        engine: Engine,
        outputs: list[Output],
        *,
        flow: str,
        node: str = "watch",
        interval: float,
        timeout: float = 20.0,
    ) -> None:
        self.engine = engine
        self.outputs = outputs
        self._flow = flow
        self._node = node
        self._interval = interval
        self._timeout = timeout

    @property
    def ticks(self) -> int:
        return self.engine.stats(self._flow)[self._node].ticks

    async def next_tick(self, count: int = 1) -> None:
        """Wait until ``count`` whole ticks ran after this call (one may be running now)."""
        target = self.ticks + count + 1
        async with asyncio.timeout(self._timeout):
            while self.ticks < target:  # noqa: ASYNC110 - the tick loop sets no event
                await asyncio.sleep(self._interval / 2)
        await self.engine.wait_idle(self._flow)

    def ids(self) -> list[str]:
        return [o.payload["id"] for o in self.outputs]
