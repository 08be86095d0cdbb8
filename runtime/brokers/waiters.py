"""Waiting for room or for items in a bounded channel: futures woken one at a time.

The protocol of :class:`asyncio.Queue`'s waiters without its task accounting: a ``put`` or
``get`` that cannot proceed parks a future in a deque; whoever makes room or adds an item wakes
the next one; a waiter cancelled after it was woken passes its wake-up on.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import collections
    from collections.abc import Callable


def wake_next(waiters: collections.deque[asyncio.Future[None]]) -> None:
    """Wake the first waiter that is still waiting."""
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


async def wait(waiters: collections.deque[asyncio.Future[None]], ready: Callable[[], bool]) -> None:
    """Park until woken; a cancelled waiter hands a wake-up it received to the next one."""
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    except BaseException:
        waiter.cancel()
        with contextlib.suppress(ValueError):
            waiters.remove(waiter)
        if ready() and not waiter.cancelled():
            wake_next(waiters)
        raise
