"""Waiting for room or for items in a bounded channel: futures woken one at a time.

The protocol of :class:`asyncio.Queue`'s waiters without its task accounting: a ``put`` or
``get`` that cannot proceed parks a future in a deque; whoever makes room or adds an item wakes
the next one; a waiter cancelled after it was woken passes its wake-up on. A channel of which a
server holds thousands (the in-memory broker's) keeps its waiters in a :class:`WaiterList`
instead: an empty ``deque`` already holds a 64-slot block (about 600 bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import collections
    from collections.abc import Callable


class WaiterList(list["asyncio.Future[None]"]):
    """Waiters in a list: a few bytes while empty; taking the first moves the (few) others."""

    __slots__ = ()

    def popleft(self) -> asyncio.Future[None]:
        return self.pop(0)


Waiters: TypeAlias = "collections.deque[asyncio.Future[None]] | WaiterList"


def wake_next(waiters: Waiters) -> None:
    """Wake the first waiter that is still waiting."""
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


async def wait(waiters: Waiters, ready: Callable[[], bool]) -> None:
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
