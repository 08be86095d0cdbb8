"""Per-call timeouts of ``receive``: one sweeper task per flow instead of a timer per message.

Each worker notes which message its handler is working on (:class:`~runtime.node.Call`); the
sweeper wakes a few times per timeout, times each call from the first time it sees it, and
cancels those that ran past their timeout (:meth:`Node.expire_overdue`). A call therefore ends
between its timeout and a quarter of it later (at most a second later). The message of a cancelled
call is retried with a :class:`~runtime.errors.CallTimeoutError` (it uses an attempt) and
dead-lettered by the flow's retry policy like any other failure.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runtime.node import Node

MIN_PERIOD = 0.05
MAX_PERIOD = 1.0


def sweep_period(nodes: Sequence[Node]) -> float:
    """How often to look: a quarter of the shortest timeout, within [0.05 s, 1 s]."""
    shortest = min((node.timeout for node in nodes), default=MAX_PERIOD * 4)
    return min(MAX_PERIOD, max(MIN_PERIOD, shortest / 4))


async def sweep(nodes: Sequence[Node]) -> None:
    """Cancel overdue handler calls of ``nodes`` until cancelled."""
    period = sweep_period(nodes)
    while True:
        await asyncio.sleep(period)
        now = time.monotonic()
        for node in nodes:
            node.expire_overdue(now)
