"""An event flag like :class:`asyncio.Event` that allocates nothing until someone waits.

Every running flow holds several flags (idle, stopping, resumed, started) that are rarely
waited on; :class:`asyncio.Event` makes a ``deque`` of waiters for each at construction (about
750 bytes), which at ten thousand flows is tens of megabytes of empty deques.
"""

from __future__ import annotations

import asyncio
from typing import Literal


class LazyEvent:
    """``is_set``/``set``/``clear``/``wait`` as :class:`asyncio.Event`, waiters made on demand."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        if not self._value:
            self._value = True
            waiters = self._waiters
            if waiters:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> Literal[True]:
        """Return at once if the flag is set, otherwise when :meth:`set` is next called."""
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            waiters.remove(waiter)
            if not waiters:
                self._waiters = None  # a flow waited on once keeps no list for ever

    def __repr__(self) -> str:
        state = "set" if self._value else "unset"
        return f"<LazyEvent [{state}, waiters:{len(self._waiters or ())}]>"
